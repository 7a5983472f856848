#include "recovery/job_spec.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "json/spec_reader.h"
#include "spec/components.h"
#include "util/file.h"
#include "util/strings.h"

namespace recovery {
namespace {

bool IsValidJobName(std::string_view name) {
  if (name.empty() || name.size() > 128 || name == "." || name == "..") return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') return false;
  }
  return true;
}

void ReadComponent(SpecObject& top, std::string_view key, ComponentSpec* out) {
  auto value = top.Value(key);
  if (!value) return;
  SpecObject section(*value, top.PathOf(key), top.errors());
  if (!section.valid()) return;
  auto type = section.String("type", true);
  if (!type) return;
  if (type->empty()) {
    top.errors()->Add(section.PathOf("type"), "must not be empty");
    return;
  }
  out->type = *type;
  out->json = simdjson::minify(*value);
  // The other keys belong to the component, which checks them.
}

// window.only: the parts of the window to recover, in order, inside it.
void ReadOnlyParts(SpecObject& window, simdjson::dom::array only, bool window_known, JobSpec* spec,
                   SpecErrors* errors) {
  size_t i = 0;
  for (simdjson::dom::element e : only) {
    SpecObject part(e, StrCat(window.PathOf("only"), "[", i++, "]"), errors);
    if (!part.valid()) continue;
    auto from = part.Time("start", true);
    auto to = part.Time("end", true);
    part.Finish();
    if (!from || !to) continue;
    if (*to <= *from) {
      errors->Add(part.PathOf("end"), "must be after its start");
    } else if (window_known && (*from < spec->start || *to > spec->end)) {
      errors->Add(part.path(), "must lie inside the window");
    } else if (!spec->only.empty() && *from < spec->only.back().second) {
      errors->Add(part.PathOf("start"), "must not be before the end of the part before it");
    } else {
      spec->only.emplace_back(*from, *to);
    }
  }
  if (spec->follow && !spec->only.empty()) errors->Add(window.PathOf("only"), "does not go with follow");
}

// The window, its overlap, and follow mode.
void ReadWindow(SpecObject& window, JobSpec* spec, SpecErrors* errors) {
  auto start = window.Time("start", true);
  auto end = window.Time("end", true);
  spec->follow = window.Bool("follow").value_or(false);
  if (auto poll = window.Duration("poll_interval", false, absl::Milliseconds(10)))
    spec->poll_interval = *poll;
  if (auto overlap = window.Duration("overlap", false, absl::ZeroDuration())) spec->overlap = *overlap;
  if (start) spec->start = *start - spec->overlap;
  if (end) spec->end = *end + spec->overlap;
  if (start && end && (*end < *start || (*end == *start && !spec->follow))) {
    errors->Add(window.PathOf("end"),
                spec->follow ? "must not be before window.start" : "must be after window.start");
  }
  if (auto only = window.Array("only")) ReadOnlyParts(window, *only, start && end, spec, errors);
  window.Finish();
}

// Parses everything but the component sections' contents.
void ParseTop(std::string_view json, JobSpec* spec, SpecErrors* errors) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (auto err = parser.parse(json.data(), json.size()).get(root)) {
    errors->Add("(top level)", StrCat("invalid JSON: ", simdjson::error_message(err)));
    return;
  }
  SpecObject top(root, "", errors);
  if (!top.valid()) return;
  top.String("description");
  if (auto name = top.String("name", true)) {
    if (IsValidJobName(*name)) {
      spec->name = *name;
    } else {
      errors->Add("name", StrCat("must be 1 to 128 of A-Z a-z 0-9 . _ - (it names checkpoint files), got \"",
                                 *name, "\""));
    }
  }
  if (auto window = top.Object("window", true)) ReadWindow(*window, spec, errors);
  if (auto d = top.Duration("shard_duration", false, absl::Seconds(1))) spec->shard_duration = *d;
  if (auto v = top.Value("concurrency"); v && v->is_object()) {
    // {"max": N}: N shards at once, and the HTTP source's requests in
    // flight learned up to N (adaptive_limiter.h).
    SpecObject c(*v, "concurrency", errors);
    if (auto max = c.Int("max", true, 1, 1024)) spec->concurrency = static_cast<int>(*max);
    spec->adaptive_concurrency = true;
    c.Finish();
  } else if (auto c = top.Int("concurrency", false, 1, 1024)) {
    spec->concurrency = static_cast<int>(*c);
  }
  if (auto m = top.Int("max_records", false, 0, INT64_MAX)) spec->max_records = *m;
  if (auto k = top.Int("isolate_after_crashes", false, 0, 1000))
    spec->isolate_after_crashes = static_cast<int>(*k);
  spec->skip_already_present = top.Bool("skip_already_present").value_or(false);
  spec->key_log = top.Bool("key_log").value_or(false);
  if (auto retry = top.Object("retry")) {
    RetryPolicy& r = spec->retry;
    if (auto v = retry->Duration("initial_backoff", false, absl::Milliseconds(1))) r.initial_backoff = *v;
    if (auto v = retry->Duration("max_backoff", false, absl::Milliseconds(1))) r.max_backoff = *v;
    if (auto v = retry->Int("max_attempts", false, 1, 1000000)) r.max_attempts = static_cast<int>(*v);
    if (auto v = retry->Duration("max_elapsed", false, absl::ZeroDuration())) r.max_elapsed = *v;
    if (r.max_backoff < r.initial_backoff) {
      errors->Add(retry->PathOf("max_backoff"), "must be at least retry.initial_backoff");
    }
    retry->Finish();
  }
  if (auto budget = top.Object("error_budget")) {
    ErrorBudget& b = spec->error_budget;
    if (auto v = budget->Int("max_count", false, -1, INT64_MAX)) b.max_count = *v;
    if (auto v = budget->Double("max_fraction", false, 0, 1)) b.max_fraction = *v;
    if (auto v = budget->Int("min_records", false, 0, INT64_MAX)) b.min_records = *v;
    budget->Finish();
  }
  ReadComponent(top, "source", &spec->source);
  ReadComponent(top, "mapper", &spec->mapper);
  ReadComponent(top, "sink", &spec->sink);
  ReadComponent(top, "checkpoint", &spec->checkpoint);
  ReadComponent(top, "dead_letters", &spec->dead_letters);
  top.Finish();
}

}  // namespace

std::vector<std::string> ValidateJobSpec(std::string_view json) {
  JobSpec spec;
  SpecErrors errors;
  ParseTop(json, &spec, &errors);
  CheckComponents(spec, &errors, /*resolve=*/true);
  return errors.list();
}

absl::StatusOr<JobSpec> JobSpec::Parse(std::string_view json) {
  JobSpec spec;
  SpecErrors errors;
  ParseTop(json, &spec, &errors);
  CheckComponents(spec, &errors, /*resolve=*/false);
  if (!errors.empty()) return errors.ToStatus("invalid job spec");
  return spec;
}

absl::StatusOr<JobSpec> JobSpec::FromFile(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) return text.status();
  absl::StatusOr<JobSpec> spec = Parse(*text);
  if (!spec.ok()) {
    return absl::Status(spec.status().code(), StrCat(path, ": ", spec.status().message()));
  }
  spec->base_dir = DirName(path);
  return spec;
}

}  // namespace recovery
