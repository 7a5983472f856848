// Turning a job spec's sections into components, through the registry of
// built-ins (registry.h): checking them, building those the caller did not
// give in code, and refusing at once a job that needs an ability its
// components lack.
#ifndef RECOVERY_SPEC_COMPONENTS_H_
#define RECOVERY_SPEC_COMPONENTS_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "json/spec_reader.h"
#include "recovery/components.h"
#include "recovery/job_spec.h"
#include "spec/registry.h"

namespace recovery {

// Checks every present component section, adding errors with JSON paths.
// With `resolve`, also resolves what creating them needs (secrets, AWS
// credentials and region), reporting what is missing; without, reads nothing
// but the spec.
void CheckComponents(const JobSpec& spec, SpecErrors* errors, bool resolve);

// Whether the source the spec names reads a queue, which the engine plans as
// one shard: what its Source::plans_one_shard() says once built.
bool SourcePlansOneShard(const JobSpec& spec);
// Whether each shard of the spec's source reads only its own records
// (Source::partitions_by_shard); true for a type the registry does not know.
bool SourcePartitionsByShard(const JobSpec& spec);
// The cursor that starts a shard of the spec's source at the position an
// operator names (`recovery state set`: a page number, an offset, keyset's
// TIME,ID, a byte offset into an export), from the spec alone; InvalidArgument
// giving the form a position takes, or why the source has none.
absl::StatusOr<std::string> SourceCursorAt(const JobSpec& spec, std::string_view position);

// Which components ResolveComponents builds when the caller gave none.
struct ResolveOptions {
  bool source = true;
  bool mapper = true;
  bool sink = true;
  bool checkpoints = true;
  bool dead_letters = true;
  // A sink the spec leaves out, or names as a callback (which only code
  // supplies), is the null sink: a dry run writes nothing.
  bool dry_run = false;
};

// The directory of the job's own files beside its checkpoints:
// <checkpoint.dir>/<job> when the checkpoint section names a directory (the
// file store), else recovery-state/<job> beside the job file. `recovery
// reconcile` keeps its last result there.
std::string JobFilesDir(const JobSpec& spec);

// Builds each component `options` asks for that `c` does not hold, from the
// spec's section; InvalidArgument, naming the section, when it is absent or
// invalid. An absent checkpoint section gives a file store in
// "recovery-state" beside the job file; an absent dead_letters section a store
// beside the checkpoints (<dir>/<job>/dead_letters.jsonl, PostgreSQL's table
// in the same schema, memory for memory checkpoints).
absl::Status ResolveComponents(const JobSpec& spec, const ResolveOptions& options, Components* c);

// Why a job whose source's cursors may expire cannot restart a shard
// exactly with a `checkpoint_type` store (empty: one given in code) that
// keeps no delivered keys and no presence check.
std::string RestartCannotBeExact(std::string_view checkpoint_type);

// The refusal, with `code`, of a job whose sink lacks an ability it needs:
// names what needed it, the sink (its type, or "given in code"), what it
// cannot do ("tell which records it already holds"), and the built-in sinks
// that can.
absl::Status SinkLacks(absl::StatusCode code, const JobSpec& spec, std::string_view needed_by,
                       std::string_view cannot, Ability SinkType::*ability);

}  // namespace recovery

#endif  // RECOVERY_SPEC_COMPONENTS_H_
