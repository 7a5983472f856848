// Where each shard of this host was when its process died: inside the sink's
// Write, or elsewhere. The crash-loop breaker (crash_isolation.h) counts a
// death against a batch only when the batch was in the sink at the time: a
// process killed from outside (a deploy, an operator, an OOM kill of a
// neighbour) just after the sink took a batch and before its commit was
// saved must not make a healthy record a suspect.
//
// A mark is a 16-byte slot per shard, written with pwrite() before and after
// each Write, without fsync: it lives in the page cache of a file under
// /dev/shm (or the temporary directory), so it outlives the process but not
// the host; a reboot, a run on another host or a slot another job of the same
// name overwrote leaves the death "unknown", counted as before the marks
// existed. Each mark carries the stamp of the in-flight checkpoint it belongs
// to (Checkpoint::updated), so a mark of an older batch never speaks for a
// newer one.
#ifndef RECOVERY_ENGINE_SINK_MARKS_H_
#define RECOVERY_ENGINE_SINK_MARKS_H_

#include <memory>
#include <string>
#include <string_view>

#include "absl/time/time.h"

namespace recovery {

class SinkMarks {
 public:
  // The marks of job `job` on this host; null when no file can hold them (the
  // breaker then counts every death, as without marks).
  static std::unique_ptr<SinkMarks> Open(std::string_view job);
  // The same in `dir` (tests).
  static std::unique_ptr<SinkMarks> OpenIn(const std::string& dir, std::string_view job);
  ~SinkMarks();
  SinkMarks(const SinkMarks&) = delete;
  SinkMarks& operator=(const SinkMarks&) = delete;

  // Shard `shard` hands the batch of the in-flight checkpoint stamped
  // `stamp` to the sink, and is back from it. Best effort: a failed write
  // leaves the slot as it was, which reads as "unknown" for this stamp.
  void Enter(int shard, absl::Time stamp) { Put(shard, stamp, kInSink); }
  void Leave(int shard, absl::Time stamp) { Put(shard, stamp, kOutside); }

  enum class Where { kUnknown, kInSink, kOutside };
  // Where shard `shard` last was with the batch stamped `stamp`.
  Where Last(int shard, absl::Time stamp) const;

  const std::string& path() const { return path_; }

 private:
  static constexpr uint32_t kInSink = 1, kOutside = 2;
  SinkMarks(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  void Put(int shard, absl::Time stamp, uint32_t where);

  int fd_;
  std::string path_;
};

// Enters the sink on construction and leaves on destruction; does nothing
// without marks.
class InSink {
 public:
  InSink(SinkMarks* marks, int shard, absl::Time stamp) : marks_(marks), shard_(shard), stamp_(stamp) {
    if (marks_ != nullptr) marks_->Enter(shard_, stamp_);
  }
  ~InSink() {
    if (marks_ != nullptr) marks_->Leave(shard_, stamp_);
  }
  InSink(const InSink&) = delete;
  InSink& operator=(const InSink&) = delete;

 private:
  SinkMarks* marks_;
  int shard_;
  absl::Time stamp_;
};

}  // namespace recovery

#endif  // RECOVERY_ENGINE_SINK_MARKS_H_
