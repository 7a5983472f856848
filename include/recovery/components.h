// The five components of a job, as a caller gives them in code.
#ifndef RECOVERY_COMPONENTS_H_
#define RECOVERY_COMPONENTS_H_

#include <memory>

#include "recovery/checkpoint_store.h"
#include "recovery/dead_letter_store.h"
#include "recovery/mapper.h"
#include "recovery/sink.h"
#include "recovery/source.h"

namespace recovery {

// Components given in code. Each one present replaces the job spec's section
// of the same name (which may then be absent).
struct Components {
  std::unique_ptr<Source> source;
  std::unique_ptr<Mapper> mapper;
  std::unique_ptr<Sink> sink;
  std::unique_ptr<CheckpointStore> checkpoints;
  std::unique_ptr<DeadLetterStore> dead_letters;
};

}  // namespace recovery

#endif  // RECOVERY_COMPONENTS_H_
