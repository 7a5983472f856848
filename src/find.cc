#include "recovery/find.h"

#include <algorithm>
#include <map>
#include <tuple>

#include "json/json_writer.h"
#include "recovery/checkpoint.h"
#include "recovery/record.h"
#include "recovery/sink.h"
#include "recovery/sink_abilities.h"
#include "recovery/source.h"
#include "spec/components.h"
#include "util/status_macros.h"
#include "util/strings.h"
#include "util/time_format.h"

namespace recovery {
namespace {

// How each outcome is named: the JSON word, and the sentence for a person.
struct OutcomeNames {
  std::string_view word, text;
};

OutcomeNames NamesOf(RecordOutcome outcome) {
  switch (outcome) {
    case RecordOutcome::kDelivered:
      return {"delivered", "delivered"};
    case RecordOutcome::kAlreadyPresent:
      return {"already_present", "found already present in the destination"};
    case RecordOutcome::kDeadLettered:
      return {"dead_lettered", "dead-lettered"};
    case RecordOutcome::kOutOfWindow:
      return {"out_of_window", "read, but its event time is outside the job's window"};
    case RecordOutcome::kDropped:
      break;
  }
  return {"dropped", "dropped by the mapping's filter"};
}

// The letters of the job whose key is one of `fates`' (the stored key, or
// the one the mapper reads from the raw record).
absl::Status FindLetters(const JobSpec& spec, const Components& c, std::vector<KeyFate>* fates) {
  LetterReadback* readback = c.dead_letters->readback();
  if (readback == nullptr) return absl::OkStatus();
  std::map<std::string, size_t, std::less<>> wanted;
  for (size_t i = 0; i < fates->size(); ++i) wanted.emplace((*fates)[i].key, i);
  constexpr size_t kPage = 1000;
  std::string after;
  std::vector<ListedLetter> page;
  do {
    page.clear();
    RECOVERY_RETURN_IF_ERROR(readback->ListLetters(spec.name, "find", after, kPage, &page));
    for (ListedLetter& l : page) {
      RawRecord raw;
      raw.data = l.raw;
      const std::string key = l.key.empty() ? c.mapper->KeyOf(raw) : l.key;
      auto it = wanted.find(key);
      if (it != wanted.end()) (*fates)[it->second].letter = std::move(l);
    }
    if (!page.empty()) after = page.back().id;
  } while (page.size() == kPage);
  return absl::OkStatus();
}

// Asks the destination which of the keys it holds, when its presence check
// answers by key alone; otherwise says why it was not asked.
void AskDestination(const JobSpec& spec, Components& c, FindReport* report) {
  PresenceCheck* presence = c.sink != nullptr ? c.sink->presence() : nullptr;
  if (presence == nullptr) {
    report->destination_note = "the destination was not asked: the sink has no presence check";
    return;
  }
  if (!presence->answers_by_key()) {
    report->destination_note =
        "the destination was not asked: its presence check needs whole records, not keys alone";
    return;
  }
  RecordBatch batch;
  for (const KeyFate& f : report->keys) batch.Add(f.key, kUnknownEventTime, "{}", false);
  PresenceAnswer answer;
  Shard whole{"find", 0, spec.start, spec.end};
  absl::Status s = presence->OpenForReading();
  if (s.ok()) s = presence->Check(whole, batch.records(), &answer);
  if (!s.ok() || answer.present.size() != report->keys.size()) {
    report->destination_note =
        StrCat("the destination could not be asked: ",
               s.ok() ? std::string("it answered for other keys") : ToStd(s.message()));
    return;
  }
  report->destination_asked = true;
  for (size_t i = 0; i < report->keys.size(); ++i) report->keys[i].in_destination = answer.present[i];
}

}  // namespace

std::optional<RecordOutcome> KeyFate::outcome() const {
  if (!seen.empty()) return seen.back().outcome;
  if (letter) return RecordOutcome::kDeadLettered;
  return std::nullopt;
}

absl::StatusOr<FindReport> FindKeys(const JobSpec& spec, Components components,
                                    absl::Span<const std::string> keys, const FindOptions& options) {
  RECOVERY_RETURN_IF_ERROR(ResolveComponents(
      spec, {.source = false, .sink = options.ask_destination, .dry_run = true}, &components));
  FindReport report;
  report.key_log_kept = spec.key_log;
  std::vector<uint64_t> hashes;
  for (const std::string& key : keys) {
    report.keys.push_back(KeyFate{key, {}, std::nullopt, std::nullopt});
    hashes.push_back(StableKeyHash(key));
  }
  if (KeyLog* log = components.checkpoints->key_log(); log != nullptr) {
    RECOVERY_ASSIGN_OR_RETURN(std::vector<KeyLogHit> hits, log->Find(spec.name, hashes));
    // Oldest first; a run's id starts with its start time.
    std::stable_sort(hits.begin(), hits.end(), [](const KeyLogHit& a, const KeyLogHit& b) {
      return std::tie(a.at, a.run_id) < std::tie(b.at, b.run_id);
    });
    for (KeyLogHit& hit : hits) {
      for (size_t i = 0; i < hashes.size(); ++i) {
        if (hashes[i] == hit.key_hash) report.keys[i].seen.push_back(hit);
      }
    }
  }
  RECOVERY_RETURN_IF_ERROR(FindLetters(spec, components, &report.keys));
  if (options.ask_destination) AskDestination(spec, components, &report);
  return report;
}

std::string FindReportText(const FindReport& report) {
  std::string out;
  for (const KeyFate& f : report.keys) {
    StrAppend(&out, f.key, ": ");
    const std::optional<RecordOutcome> outcome = f.outcome();
    if (!outcome) {
      StrAppend(&out, report.key_log_kept ? "never seen by the job"
                                          : "not in the dead letters (the job keeps no key log: set "
                                            "\"key_log\": true to know more)");
    } else {
      StrAppend(&out, NamesOf(*outcome).text);
      if (!f.seen.empty()) {
        const KeyLogHit& last = f.seen.back();
        StrAppend(&out, " by shard ", last.shard_id, " (run ", last.run_id, ", ", FormatRfc3339(last.at),
                  ")");
        if (f.seen.size() > 1) StrAppend(&out, "; read ", f.seen.size(), " times");
      }
      if (f.letter) {
        StrAppend(&out, *outcome == RecordOutcome::kDeadLettered ? ": " : "; an earlier dead letter said: ",
                  f.letter->reason);
      }
    }
    if (f.in_destination) {
      StrAppend(&out,
                *f.in_destination ? "; the destination holds it" : "; the destination does not hold it");
      if (*f.in_destination && !outcome)
        StrAppend(&out, " (written there by something else, such as the live feed)");
    }
    out.push_back('\n');
  }
  if (!report.destination_note.empty()) StrAppend(&out, "(", report.destination_note, ")\n");
  return out;
}

std::string FindReportJson(const FindReport& report) {
  std::string keys = "[";
  for (const KeyFate& f : report.keys) {
    if (keys.size() > 1) keys.push_back(',');
    JsonObjectWriter w(&keys);
    const std::optional<RecordOutcome> outcome = f.outcome();
    w.Str("key", f.key).Str("outcome", outcome ? NamesOf(*outcome).word : "not_seen");
    if (!f.seen.empty()) {
      const KeyLogHit& last = f.seen.back();
      w.Str("shard", last.shard_id).Str("run_id", last.run_id).Time("at", last.at);
    } else if (f.letter) {
      w.Str("shard", f.letter->shard_id).Time("at", f.letter->time);
    }
    w.Uint("times_seen", f.seen.size());
    if (f.letter) w.Str("reason", f.letter->reason);
    if (f.in_destination) w.Bool("in_destination", *f.in_destination);
    w.Close();
  }
  keys.push_back(']');
  std::string out;
  JsonObjectWriter w(&out);
  w.Bool("key_log", report.key_log_kept).Bool("destination_asked", report.destination_asked);
  if (!report.destination_note.empty()) w.Str("destination_note", report.destination_note);
  w.Raw("keys", keys);
  w.Close();
  return out;
}

}  // namespace recovery
