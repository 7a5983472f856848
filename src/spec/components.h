// The registry of built-in components: each spec section's "type" names one.
// New built-ins (HTTP, SQS, …) are added here.
#ifndef RECOVERY_COMPONENTS_H_
#define RECOVERY_COMPONENTS_H_

#include <memory>

#include "absl/status/statusor.h"
#include "json/spec_reader.h"
#include "recovery/checkpoint_store.h"
#include "recovery/dead_letter_store.h"
#include "recovery/job_spec.h"
#include "recovery/mapper.h"
#include "recovery/sink.h"
#include "recovery/source.h"

namespace recovery {

// Checks every present component section, adding errors with JSON paths.
// With `resolve`, also resolves what creating them needs (secrets, AWS
// credentials and region), reporting what is missing; without, reads nothing
// but the spec.
void CheckComponents(const JobSpec& spec, SpecErrors* errors, bool resolve);

// Whether the source the spec names reads a queue, which the engine plans as
// one shard: what its Source::plans_one_shard() says once built.
bool SourcePlansOneShard(const JobSpec& spec);

// Each builds the component its section names; InvalidArgument when the
// section is absent (or names a type that only code can supply).
absl::StatusOr<std::unique_ptr<Source>> BuildSource(const JobSpec& spec);
absl::StatusOr<std::unique_ptr<Mapper>> BuildMapper(const JobSpec& spec);
absl::StatusOr<std::unique_ptr<Sink>> BuildSink(const JobSpec& spec);
// An absent section gives a file store in "recovery-state" beside the job file.
absl::StatusOr<std::unique_ptr<CheckpointStore>> BuildCheckpointStore(const JobSpec& spec);
// An absent section gives <checkpoint dir>/<job>/dead_letters.jsonl (memory
// for a memory checkpoint store).
absl::StatusOr<std::unique_ptr<DeadLetterStore>> BuildDeadLetterStore(const JobSpec& spec);

}  // namespace recovery

#endif  // RECOVERY_COMPONENTS_H_
