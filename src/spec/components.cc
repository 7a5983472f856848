#include "spec/components.h"

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "util/status_macros.h"
#include "util/strings.h"

namespace recovery {
namespace {

// Parses a section, finds its type's row in `rows` and hands the section to
// the row's reader; an unknown type is an error that lists the known ones.
template <typename T, typename Row>
absl::StatusOr<std::unique_ptr<T>> FromSection(const JobSpec& spec, const ComponentSpec& section,
                                               std::string_view name, absl::Span<const Row> rows,
                                               SpecErrors* errors, bool resolve) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (auto err = parser.parse(section.json.data(), section.json.size()).get(root)) {
    errors->Add(name, StrCat("invalid JSON: ", simdjson::error_message(err)));
    return absl::InvalidArgumentError(StrCat("unparseable ", name));
  }
  SpecObject o(root, std::string(name), errors);
  o.String("type");
  const Row* row = FindType(rows, section.type);
  absl::StatusOr<std::unique_ptr<T>> built = absl::InvalidArgumentError(StrCat("invalid ", name));
  if (row == nullptr) {
    o.errors()->Add(o.PathOf("type"),
                    StrCat("unknown type \"", section.type, "\" (known: ", TypeNames(rows), ")"));
  } else if (row->read == nullptr) {
    built = absl::InvalidArgumentError(StrCat(name, ".type: \"", section.type,
                                              "\" is supplied in code (Components.", name,
                                              ", or the C/Python callback)"));
  } else {
    built = row->read(spec, o, errors, resolve);
  }
  o.Finish();
  return built;
}

absl::StatusOr<std::unique_ptr<Source>> SourceFrom(const JobSpec& spec, SpecErrors* errors, bool resolve) {
  return FromSection<Source>(spec, spec.source, "source", SourceTypes(), errors, resolve);
}

absl::StatusOr<std::unique_ptr<Mapper>> MapperFrom(const JobSpec& spec, SpecErrors* errors, bool resolve) {
  return FromSection<Mapper>(spec, spec.mapper, "mapper", MapperTypes(), errors, resolve);
}

absl::StatusOr<std::unique_ptr<Sink>> SinkFrom(const JobSpec& spec, SpecErrors* errors, bool resolve) {
  return FromSection<Sink>(spec, spec.sink, "sink", SinkTypes(), errors, resolve);
}

absl::StatusOr<std::unique_ptr<CheckpointStore>> CheckpointsFrom(const JobSpec& spec, SpecErrors* errors,
                                                                 bool resolve) {
  if (!spec.checkpoint.present()) return NewFileCheckpointStore(StatePath(spec, kDefaultStateDir));
  return FromSection<CheckpointStore>(spec, spec.checkpoint, "checkpoint", CheckpointStoreTypes(), errors,
                                      resolve);
}

// The dead letters beside the checkpoint store the spec names (the row's
// letters_beside), whose section reports its own errors.
absl::StatusOr<std::unique_ptr<DeadLetterStore>> LettersBesideCheckpoints(const JobSpec& spec, bool resolve) {
  if (!spec.checkpoint.present()) {
    return NewFileDeadLetterStore(
        StatePath(spec, StrCat(kDefaultStateDir, "/", spec.name, "/dead_letters.jsonl")));
  }
  const CheckpointStoreType* row = FindType(CheckpointStoreTypes(), spec.checkpoint.type);
  if (row == nullptr) return absl::InvalidArgumentError("invalid checkpoint");
  SpecErrors ignored;
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(spec.checkpoint.json).get(root) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError("invalid checkpoint");
  }
  SpecObject o(root, "checkpoint", &ignored);
  return row->letters_beside(spec, o, &ignored, resolve);
}

absl::StatusOr<std::unique_ptr<DeadLetterStore>> DeadLettersFrom(const JobSpec& spec, SpecErrors* errors,
                                                                 bool resolve) {
  if (!spec.dead_letters.present()) return LettersBesideCheckpoints(spec, resolve);
  return FromSection<DeadLetterStore>(spec, spec.dead_letters, "dead_letters", DeadLetterStoreTypes(), errors,
                                      resolve);
}

// Builds `*slot` from the spec when the caller gave nothing and `wanted`.
template <typename T>
absl::Status Fill(bool wanted, const ComponentSpec* section, std::string_view name, std::unique_ptr<T>* slot,
                  absl::StatusOr<std::unique_ptr<T>> (*from)(const JobSpec&, SpecErrors*, bool),
                  const JobSpec& spec) {
  if (!wanted || *slot != nullptr) return absl::OkStatus();
  if (section != nullptr && !section->present()) {
    return absl::InvalidArgumentError(StrCat(name, ": missing from the job spec and not given in code"));
  }
  SpecErrors errors;
  absl::StatusOr<std::unique_ptr<T>> built = from(spec, &errors, /*resolve=*/true);
  if (!errors.empty()) return errors.ToStatus(StrCat("invalid ", name));
  if (!built.ok()) return built.status();
  *slot = *std::move(built);
  return absl::OkStatus();
}

}  // namespace

std::string JobFilesDir(const JobSpec& spec) {
  std::string dir = kDefaultStateDir;
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  std::string_view named;
  if (spec.checkpoint.present() && parser.parse(spec.checkpoint.json).get(root) == simdjson::SUCCESS &&
      root["dir"].get_string().get(named) == simdjson::SUCCESS) {
    dir = std::string(named);
  }
  return StatePath(spec, StrCat(dir, "/", spec.name));
}

bool SourcePlansOneShard(const JobSpec& spec) {
  const SourceType* row = FindType(SourceTypes(), spec.source.type);
  return row != nullptr && row->plans_one_shard;
}

bool SourcePartitionsByShard(const JobSpec& spec) {
  const SourceType* row = FindType(SourceTypes(), spec.source.type);
  return row == nullptr || row->partitions_by_shard;
}

absl::StatusOr<std::string> SourceCursorAt(const JobSpec& spec, std::string_view position) {
  const SourceType* row = FindType(SourceTypes(), spec.source.type);
  if (row == nullptr || row->position == nullptr) {
    return absl::InvalidArgumentError(
        StrCat("a shard of a source of type \"", spec.source.type,
               "\" has no position an operator can name (a queue, or a source supplied in code): skip it "
               "with `recovery state skip`, or start it over with `recovery reset`"));
  }
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(spec.source.json.data(), spec.source.json.size()).get(root)) {
    return absl::InvalidArgumentError("source: invalid JSON");
  }
  SpecErrors errors;
  SpecObject o(root, "source", &errors);
  o.String("type");
  absl::StatusOr<std::string> cursor = row->position(spec, o, &errors, position);
  o.SkipUnread();
  o.Finish();
  if (!errors.empty()) return absl::InvalidArgumentError(errors.list().front());
  return cursor;
}

void CheckComponents(const JobSpec& spec, SpecErrors* errors, bool resolve) {
  bool restarts_need_keys = false;  // cursors that expire, over records in no known order
  if (spec.source.present()) {
    absl::StatusOr<std::unique_ptr<Source>> source = SourceFrom(spec, errors, resolve);
    // A source whose records come sorted by time restarts from where they got to.
    restarts_need_keys =
        source.ok() && *source != nullptr && (*source)->cursors_may_expire() &&
        !((*source)->paging_claims() != nullptr && (*source)->paging_claims()->facts().sorted);
  }
  if (spec.mapper.present()) (void)MapperFrom(spec, errors, resolve);
  const SinkType* sink = FindType(SinkTypes(), spec.sink.type);
  // An unknown type too, which the reading reports with the known ones.
  if (spec.sink.present() && (sink == nullptr || sink->read != nullptr))
    (void)SinkFrom(spec, errors, resolve);
  if (spec.skip_already_present && sink != nullptr && !sink->presence.offered) {
    errors->Add("skip_already_present",
                StrCat("the ", spec.sink.type, " sink cannot tell which records it already holds; use a ",
                       SinkTypesThat(&SinkType::presence), " sink, or turn it off"));
  }
  if (spec.checkpoint.present()) (void)CheckpointsFrom(spec, errors, resolve);
  if (spec.dead_letters.present()) (void)DeadLettersFrom(spec, errors, resolve);
  const CheckpointStoreType* store = FindType(CheckpointStoreTypes(), spec.checkpoint.type);
  if (spec.key_log && store != nullptr && !store->keeps_key_log) {
    errors->Add("key_log",
                StrCat("the ", spec.checkpoint.type,
                       " checkpoint store keeps no key log; use \"file\" checkpoints, or turn it off"));
  }
  if (restarts_need_keys && store != nullptr && !store->keeps_delivered_keys &&
      !(spec.skip_already_present && sink != nullptr && sink->presence.offered)) {
    errors->Add("source.pagination.expired", RestartCannotBeExact(spec.checkpoint.type));
  }
}

absl::Status ResolveComponents(const JobSpec& spec, const ResolveOptions& options, Components* c) {
  RECOVERY_RETURN_IF_ERROR(Fill(options.source, &spec.source, "source", &c->source, SourceFrom, spec));
  RECOVERY_RETURN_IF_ERROR(Fill(options.mapper, &spec.mapper, "mapper", &c->mapper, MapperFrom, spec));
  if (options.sink && c->sink == nullptr && options.dry_run) {
    const SinkType* row = FindType(SinkTypes(), spec.sink.type);
    if (row == nullptr || row->read == nullptr) c->sink = NewNullSink();  // absent, or a callback
  }
  RECOVERY_RETURN_IF_ERROR(Fill(options.sink, &spec.sink, "sink", &c->sink, SinkFrom, spec));
  RECOVERY_RETURN_IF_ERROR(
      Fill(options.checkpoints, nullptr, "checkpoint", &c->checkpoints, CheckpointsFrom, spec));
  return Fill(options.dead_letters, nullptr, "dead_letters", &c->dead_letters, DeadLettersFrom, spec);
}

std::string RestartCannotBeExact(std::string_view checkpoint_type) {
  return StrCat(
      "a shard whose cursor expires restarts from its beginning (its records do not come sorted by time: "
      "no sorted_by) and must skip what it delivered before, but the ",
      checkpoint_type.empty() ? std::string("given") : StrCat(checkpoint_type),
      " checkpoint store keeps no delivered keys (the file, memory and postgres stores do) and the job does "
      "not "
      "ask the sink (skip_already_present, with a ",
      SinkTypesThat(&SinkType::presence), " sink)");
}

absl::Status SinkLacks(absl::StatusCode code, const JobSpec& spec, std::string_view needed_by,
                       std::string_view cannot, Ability SinkType::*ability) {
  const SinkType* row = FindType(SinkTypes(), spec.sink.type);
  const std::string which = row != nullptr && row->read != nullptr ? StrCat("the ", spec.sink.type, " sink")
                                                                   : "the sink given in code";
  return absl::Status(code, ToAbsl(StrCat(needed_by, ": ", which, " cannot ", cannot, "; a ",
                                          SinkTypesThat(ability), " sink can")));
}

}  // namespace recovery
