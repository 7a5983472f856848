// The checkpoint file format: one JSON line, then a line holding the stable
// hash of the first, so a torn or altered file is detected rather than trusted.
#ifndef RECOVERY_CHECKPOINT_CHECKPOINT_CODEC_H_
#define RECOVERY_CHECKPOINT_CHECKPOINT_CODEC_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "recovery/checkpoint_store.h"

namespace recovery {

// Version 2 added records_already_present and in_flight_keys, version 3 the
// source's warning, 4 the crash-loop breaker's keys, 5 the expired-cursor
// restarts, 6 records_of_other_shards, 7 a page cut by max_records (page_taken),
// operators' edits and purged dead letters, 8 the outcomes per hour;
// a checkpoint is written with the lowest version that holds what it has, so
// older readers keep reading what they can.
inline constexpr int kCheckpointFormatVersion = 9;

std::string EncodeCheckpoint(std::string_view job, std::string_view shard_id, const Checkpoint& checkpoint);

// DataLoss naming `source` (a file name) when the bytes are truncated, altered
// or not a checkpoint; FailedPrecondition when written by a newer format.
absl::StatusOr<Checkpoint> DecodeCheckpoint(std::string_view bytes, std::string_view source);

}  // namespace recovery

#endif  // RECOVERY_CHECKPOINT_CHECKPOINT_CODEC_H_
