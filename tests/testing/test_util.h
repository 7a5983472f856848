// Helpers shared by the tests.
#ifndef RECOVERY_TESTS_TESTING_TEST_UTIL_H_
#define RECOVERY_TESTS_TESTING_TEST_UTIL_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "recovery/job_spec.h"
#include "recovery/sink.h"
#include "recovery/source.h"

namespace recovery {
namespace testing {

// A fresh directory, removed with its contents when destroyed (kept when
// RECOVERY_KEEP_TMP is set, to look at what a failed test left).
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

void WriteFile(const std::string& path, const std::string& content);
std::string ReadFileOrEmpty(const std::string& path);
std::vector<std::string> ReadLines(const std::string& path);

// A realistic ~1 KB vendor transaction as one JSON line (no newline).
std::string TransactionJson(int64_t id, absl::Time event_time);

// `count` transactions spread evenly over [start, end), one per line.
std::string TransactionExport(int64_t count, absl::Time start, absl::Time end);

absl::Time T(const char* rfc3339);

// Sink::Write of `batch` for `shard`, as the engine would call it: the
// commit token, and the sink's rejections appended to `rejected`.
absl::StatusOr<std::string> WriteTo(Sink& sink, const Shard& shard, const RecordBatch& batch,
                                    std::vector<SinkRejection>* rejected);

// The sink, or the source, the spec's section names, built as
// Backfiller::Create would build it (through ResolveComponents).
absl::StatusOr<std::unique_ptr<Sink>> SinkOf(const JobSpec& spec);
absl::StatusOr<std::unique_ptr<Source>> SourceOf(const JobSpec& spec);

// This httplib build listens with a backlog of 5: a burst of connects from
// many clients overflows it, and each dropped SYN costs a 1 s retransmit.
// Raises the backlog of the listening socket on 127.0.0.1:`port` to 512.
void RaiseListenBacklog(int port);

// Runs `command` with /bin/sh and returns what it printed on stdout.
std::string Shell(const std::string& command);

// A TCP port on 127.0.0.1 that was free a moment ago.
int FreeLoopbackPort();

// The size of `path`, 0 when it does not exist.
int64_t FileSize(const std::string& path);

// Kills `pid` with SIGKILL once the run has made progress (`watched` has
// grown past `size_before`: a batch reached the sink), after a further
// `delay_ms`, so that the kill lands in the middle of work rather than before
// any. Returns without killing when the child ends first.
void KillAfterProgress(int pid, const std::string& watched, int64_t size_before, int delay_ms);

// Writes a self-signed certificate for 127.0.0.1 and its key (PEM) with the
// openssl command; false when it cannot (openssl missing).
bool MakeLoopbackCertificate(const std::string& cert_file, const std::string& key_file);

// True once something accepts connections on 127.0.0.1:`port`, false after `timeout`.
bool WaitForLoopbackPort(int port, absl::Duration timeout);

}  // namespace testing
}  // namespace recovery

#endif  // RECOVERY_TESTS_TESTING_TEST_UTIL_H_
