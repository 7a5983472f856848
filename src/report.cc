// The operator's report, gathered: the job's checkpoints (through JobState)
// and its dead letters not yet settled, grouped by reason. The page itself
// is drawn by report_html.cc.
#include "recovery/report.h"

#include <algorithm>
#include <map>
#include <memory>
#include <regex>

#include "absl/time/clock.h"
#include "engine/run_log.h"
#include "recovery/reconcile.h"
#include "spec/components.h"
#include "util/file.h"
#include "util/status_macros.h"
#include "util/strings.h"

namespace recovery {
namespace {

constexpr size_t kExampleBytes = 240;
constexpr size_t kMaxGroups = 200;
constexpr std::string_view kOtherReasons = "(other reasons: more than 200 different ones)";

// A raw record as an example on a page many people see: values of fields
// whose names say they are secret are masked, and it is cut short.
std::string MaskedExample(std::string_view raw) {
  static const std::regex kSecretField(
      R"re("([^"]*(password|passwd|secret|token|api_?key|authorization|credential)[^"]*)"\s*:\s*"(\\.|[^"\\])*")re",
      std::regex::icase);
  std::string text(raw.substr(0, 4 * kExampleBytes));
  text = std::regex_replace(text, kSecretField, "\"$1\":\"***\"");
  if (text.size() > kExampleBytes) {
    size_t cut = kExampleBytes;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80)
      --cut;  // whole UTF-8 characters
    text = text.substr(0, cut) + "…";
  }
  return text;
}

absl::Status CollectLetters(const JobSpec& spec, ReportData* data) {
  Components c;
  RECOVERY_RETURN_IF_ERROR(
      ResolveComponents(spec, {.source = false, .mapper = false, .sink = false, .checkpoints = false}, &c));
  LetterReadback* readback = c.dead_letters == nullptr ? nullptr : c.dead_letters->readback();
  if (readback == nullptr) {
    return absl::UnimplementedError("the job's dead-letter store cannot list its letters");
  }
  std::map<std::string, size_t> by_reason;
  std::string after;
  constexpr size_t kPage = 1000;
  while (true) {
    std::vector<ListedLetter> page;
    // A replay name no replay uses: every letter a replay has not settled is listed.
    RECOVERY_RETURN_IF_ERROR(readback->ListLetters(spec.name, "report", after, kPage, &page));
    for (ListedLetter& l : page) {
      // Reasons that carry a value of their record would make a group each:
      // past kMaxGroups, the rest share one.
      const std::string& reason = by_reason.size() < kMaxGroups || by_reason.count(l.reason) > 0
                                      ? l.reason
                                      : std::string(kOtherReasons);
      auto [it, added] = by_reason.emplace(reason, data->letters.size());
      if (added) data->letters.push_back({reason, 0, MaskedExample(l.raw), {}});
      LetterGroup& g = data->letters[it->second];
      ++g.count;
      if (std::find(g.shards.begin(), g.shards.end(), l.shard_id) == g.shards.end())
        g.shards.push_back(l.shard_id);
      ++data->letters_total;
    }
    if (page.size() < kPage) break;
    after = page.back().id;
  }
  std::stable_sort(data->letters.begin(), data->letters.end(),
                   [](const LetterGroup& a, const LetterGroup& b) { return a.count > b.count; });
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ReportData> CollectReport(const JobSpec& spec, const ReportOptions& options) {
  ReportData data;
  data.job = spec.name;
  data.start = spec.start;
  data.end = spec.end;
  data.probe_json = options.probe_json;
  data.made = options.now == absl::InfinitePast() ? absl::Now() : options.now;
  RECOVERY_ASSIGN_OR_RETURN(std::unique_ptr<JobState> state, JobState::Open(spec));
  RECOVERY_ASSIGN_OR_RETURN(data.shards, state->Status());
  // A page without its dead letters still answers most questions: it says
  // why they are missing instead of failing.
  if (absl::Status s = CollectLetters(spec, &data); !s.ok()) data.letters_error = s.ToString();
  if (absl::StatusOr<std::string> saved = ReadFile(SavedReconcilePath(spec)); saved.ok())
    data.reconcile_json = *std::move(saved);
  if (absl::StatusOr<std::vector<RunLogEntry>> runs = ReadRunLog(RunLogPath(spec)); runs.ok())
    data.runs = *std::move(runs);
  return data;
}

}  // namespace recovery
