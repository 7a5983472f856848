// The file behind one shard's key log (KeyLog, in the file checkpoint store):
//   header  "RKLOG001", the shard id's length (u32) and 4 zero bytes, then the
//           shard id, zero-padded to a multiple of 16 bytes;
//   entries 16 bytes each: the key hash (u64), when (u32, Unix seconds), what
//           (u8: 1 delivered, 2 already present, 3 dead-lettered, 4 out of
//           window, 5 dropped; 0 a run's start) and 3 zero bytes. A run's
//           start holds the length of its run id where the hash goes, and is
//           followed by the id, zero-padded to a multiple of 16 bytes.
// Every number is little-endian. A torn tail (a process killed in a write) is
// cut off before the next append.
#ifndef RECOVERY_CHECKPOINT_KEY_LOG_FILE_H_
#define RECOVERY_CHECKPOINT_KEY_LOG_FILE_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "recovery/checkpoint_store.h"
#include "recovery/source.h"

namespace recovery {

// One shard's log, appended by one process at a time. Not thread-safe.
class KeyLogFile {
 public:
  explicit KeyLogFile(std::string path) : path_(std::move(path)) {}

  // Appends `entries`, preceded by the start of `run_id` when the last run
  // this object wrote for is another. Creates the file on first use and cuts
  // off a torn tail; DataLoss naming the file when it is not a key log or
  // belongs to another shard.
  absl::Status Append(std::string_view shard_id, std::string_view run_id, absl::Time at,
                      absl::Span<const KeyLogEntry> entries);

 private:
  // Creates the file or checks it, and cuts it to its last whole entry.
  absl::Status Open(std::string_view shard_id);

  const std::string path_;
  bool opened_ = false;
  std::string last_run_;
};

// Adds to `hits` every entry of the log at `path` whose hash is in `hashes`,
// in the order written. DataLoss naming the file when it is not a key log.
absl::Status FindInKeyLog(const std::string& path, const absl::flat_hash_set<uint64_t>& hashes,
                          std::vector<KeyLogHit>* hits);

}  // namespace recovery

#endif  // RECOVERY_CHECKPOINT_KEY_LOG_FILE_H_
