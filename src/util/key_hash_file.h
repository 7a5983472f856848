// A file of 64-bit key hashes, appended and never rewritten: an 8-byte magic,
// then the hashes little-endian, 8 bytes each. Behind the file checkpoint
// store's delivered-keys logs (CheckpointStore::delivered_keys).
#ifndef RECOVERY_UTIL_KEY_HASH_FILE_H_
#define RECOVERY_UTIL_KEY_HASH_FILE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace recovery {

// Writes `hashes` as entries `at`, `at` + 1, ... of the file at `path`
// (created if missing), cuts off any entry after them, and syncs the file
// (and, when it was created, its directory). DataLoss naming the file when it
// is not such a file or holds fewer than `at` entries.
absl::Status WriteKeyHashes(const std::string& path, uint64_t at, absl::Span<const uint64_t> hashes);

// The first `count` entries of the file at `path` (none when `count` is 0,
// whether or not the file exists); DataLoss naming the file when it holds
// fewer or is not such a file.
absl::StatusOr<std::vector<uint64_t>> ReadKeyHashes(const std::string& path, uint64_t count);

}  // namespace recovery

#endif  // RECOVERY_UTIL_KEY_HASH_FILE_H_
