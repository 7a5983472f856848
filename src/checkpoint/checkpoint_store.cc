// The defaults of the CheckpointStore interface (recovery/checkpoint_store.h).
#include "recovery/checkpoint_store.h"

namespace recovery {

absl::StatusOr<std::vector<std::optional<Checkpoint>>> CheckpointStore::LoadMany(
    std::string_view job, absl::Span<const std::string> shard_ids) {
  std::vector<std::optional<Checkpoint>> out;
  out.reserve(shard_ids.size());
  for (const std::string& id : shard_ids) {
    absl::StatusOr<std::optional<Checkpoint>> ck = Load(job, id);
    if (!ck.ok()) return ck.status();
    out.push_back(*std::move(ck));
  }
  return out;
}

absl::Status CheckpointStore::SaveAll(std::string_view job,
                                      absl::Span<const std::pair<std::string, Checkpoint>> checkpoints) {
  for (const auto& [shard, checkpoint] : checkpoints) {
    if (absl::Status s = Save(job, shard, checkpoint); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace recovery
