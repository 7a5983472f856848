// The registry of built-in components: one row per type a job spec section
// may name, with the reader that checks the section and builds the component,
// and what the type can do whatever its options. Nothing else in the library
// compares a section's "type" with a name: it asks the registry.
#ifndef RECOVERY_SPEC_REGISTRY_H_
#define RECOVERY_SPEC_REGISTRY_H_

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "json/spec_reader.h"
#include "recovery/checkpoint_store.h"
#include "recovery/dead_letter_store.h"
#include "recovery/job_spec.h"
#include "recovery/mapper.h"
#include "recovery/sink.h"
#include "recovery/source.h"

namespace recovery {

// Reads a section (its "type" already read) into the built-in's options,
// adding errors with JSON paths. With `resolve` it also builds the component,
// reading the secrets it needs; without, it reads nothing outside the job spec
// and returns null.
template <typename T>
using SectionReader = absl::StatusOr<std::unique_ptr<T>> (*)(const JobSpec& spec, SpecObject& section,
                                                             SpecErrors* errors, bool resolve);

// Whether a built-in sink type offers an ability (SinkAbility below).
struct Ability {
  bool offered = false;
  std::string_view when;  // the condition, when it depends on the options; empty: always
};

// The cursor that starts a shard of the section's source at the position an
// operator names (`recovery state set`), read from the spec alone (no
// secret); InvalidArgument giving the form a position takes.
using PositionReader = absl::StatusOr<std::string> (*)(const JobSpec& spec, SpecObject& section,
                                                       SpecErrors* errors, std::string_view position);

struct SourceType {
  std::string_view type;
  SectionReader<Source> read;
  bool plans_one_shard;  // a queue, planned as one shard (Source::plans_one_shard)
  // Each shard reads its own records (Source::partitions_by_shard); false for
  // an export read whole by every shard.
  bool partitions_by_shard = true;
  // Null when the source's positions are not the operator's to name (a queue).
  PositionReader position = nullptr;
};

struct MapperType {
  std::string_view type;
  SectionReader<Mapper> read;
};

struct SinkType {
  std::string_view type;
  SectionReader<Sink> read;  // null: a type only code supplies (the callback sink)
  Ability presence;          // answers Sink::presence(): which records the destination holds
  Ability counts;            // answers Sink::counter(): its records per event-time bucket
  Ability shape;  // answers Sink::shape_check(): what the destination would refuse, without writing
};

struct CheckpointStoreType {
  std::string_view type;
  SectionReader<CheckpointStore> read;
  // The dead-letter store kept beside this store when the spec names none,
  // read from the checkpoint section (whose errors that section reports).
  SectionReader<DeadLetterStore> letters_beside;
  // Keeps each shard's delivered keys (CheckpointStore::delivered_keys).
  bool keeps_delivered_keys;
  // Keeps the key log a job may ask for (JobSpec::key_log, CheckpointStore::key_log).
  bool keeps_key_log;
};

struct DeadLetterStoreType {
  std::string_view type;
  SectionReader<DeadLetterStore> read;
};

absl::Span<const SourceType> SourceTypes();
absl::Span<const MapperType> MapperTypes();
absl::Span<const SinkType> SinkTypes();
absl::Span<const CheckpointStoreType> CheckpointStoreTypes();
absl::Span<const DeadLetterStoreType> DeadLetterStoreTypes();

// The row of `type`, or null when no built-in has that name.
template <typename Row>
const Row* FindType(absl::Span<const Row> rows, std::string_view type) {
  for (const Row& row : rows) {
    if (row.type == type) return &row;
  }
  return nullptr;
}

// Every type of a table, for "unknown type" errors: "http, jsonl_file, sqs".
template <typename Row>
std::string TypeNames(absl::Span<const Row> rows) {
  std::string out;
  for (const Row& row : rows) {
    if (!out.empty()) out += ", ";
    out += row.type;
  }
  return out;
}

// The sink types that offer an ability, with their conditions, for errors
// that say which sink could: "postgres, jsonl_file (in its envelope format)
// or callback (with a presence callback)".
std::string SinkTypesThat(Ability SinkType::*ability);

// A directory or path option, relative to the job file's directory.
std::string StatePath(const JobSpec& spec, std::string_view path);

// Where the file stores keep their files when the spec names no directory.
inline constexpr char kDefaultStateDir[] = "recovery-state";

}  // namespace recovery

#endif  // RECOVERY_SPEC_REGISTRY_H_
