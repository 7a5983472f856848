// In-memory sources and sinks with failure injection, for engine tests.
#ifndef RECOVERY_TESTS_TESTING_FAKES_H_
#define RECOVERY_TESTS_TESTING_FAKES_H_

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "borrowed.h"
#include "recovery/job_spec.h"
#include "recovery/sink.h"
#include "recovery/source.h"
#include "util/time_format.h"

namespace recovery {
namespace testing {

// `n` event times spread evenly over 2026-11-14 (the engine tests' day).
inline std::vector<absl::Time> DayTimes(int n) {
  const absl::Time day = absl::FromUnixSeconds(1794614400);  // 2026-11-14T00:00:00Z
  std::vector<absl::Time> times;
  for (int i = 0; i < n; ++i) times.push_back(day + absl::Seconds(86400.0 * i / n));
  return times;
}

// A job named `name` over 2026-11-14 (the day of DayTimes) in 6-hour shards.
inline JobSpec DaySpec(std::string name) {
  JobSpec spec;
  spec.name = std::move(name);
  spec.start = absl::FromUnixSeconds(1794614400);  // 2026-11-14T00:00:00Z
  spec.end = spec.start + absl::Hours(24);
  spec.shard_duration = absl::Hours(6);
  return spec;
}

// The mapping of FakeSource's records: the key from "id", the time from "ts".
inline constexpr char kFakeRecordMapper[] =
    R"({"type":"json","fields":[{"name":"id","from":"/id","required":true}],"key":{"from":"/id"},"event_time":{"from":"/ts"}})";

// Several runs (Backfillers) share one store, as runs share a directory.
using SharedStore = BorrowedCheckpointStore;

// A context that never stops; Sleep() really sleeps.
class TestContext : public ShardContext {
 public:
  bool Sleep(absl::Duration d) const override {
    absl::SleepFor(d);
    return true;
  }
  bool Stopping() const override { return false; }
};

// Serves records {"id":"r<i>","ts":"<time>"} with the times given, split by
// shard, `page_size` per page; the cursor is the index of the next record
// within the shard.
class FakeSource : public Source {
 public:
  // Called before each fetch with the shard and that shard's fetch count (from 1);
  // a non-OK result is returned instead of the page.
  using FetchHook = std::function<absl::Status(const Shard&, int)>;

  FakeSource(std::vector<absl::Time> times, int page_size)
      : times_(std::move(times)), page_size_(page_size) {}

  void set_fetch_hook(FetchHook hook) { hook_ = std::move(hook); }
  bool commit_needs_saved_checkpoint() const override { return false; }  // its readers commit nothing
  void set_bad_record(int index, std::string raw) { bad_[index] = std::move(raw); }

  absl::StatusOr<std::unique_ptr<ShardReader>> Open(const Shard& shard, std::string_view cursor,
                                                    const ShardContext&) override {
    size_t start = 0;
    if (!cursor.empty() && !absl::SimpleAtoi(absl::string_view(cursor.data(), cursor.size()), &start)) {
      return absl::DataLossError("bad cursor");
    }
    std::vector<std::string> records;
    for (size_t i = 0; i < times_.size(); ++i) {
      if (times_[i] < shard.start || times_[i] >= shard.end) continue;
      auto bad = bad_.find(static_cast<int>(i));
      records.push_back(bad != bad_.end() ? bad->second
                                          : "{\"id\":\"r" + std::to_string(i) + "\",\"ts\":\"" +
                                                FormatRfc3339(times_[i]) + "\"}");
    }
    return std::unique_ptr<ShardReader>(new Reader(this, shard, std::move(records), start));
  }

 private:
  class Reader : public ShardReader {
   public:
    Reader(FakeSource* source, Shard shard, std::vector<std::string> records, size_t pos)
        : source_(source), shard_(std::move(shard)), records_(std::move(records)), pos_(pos) {}

    absl::Status Next(Page* page) override {
      if (source_->hook_) {
        absl::Status s = source_->hook_(shard_, ++fetches_);
        if (!s.ok()) return s;
      }
      size_t end = std::min(records_.size(), pos_ + source_->page_size_);
      for (size_t i = pos_; i < end; ++i) page->records.Add(records_[i]);
      pos_ = end;
      page->next_cursor = std::to_string(end);
      page->exhausted = end == records_.size();
      page->bytes = 10 * (end - pos_);
      return absl::OkStatus();
    }

   private:
    FakeSource* source_;
    Shard shard_;
    std::vector<std::string> records_;
    size_t pos_;
    int fetches_ = 0;
  };

  std::vector<absl::Time> times_;
  size_t page_size_;
  std::map<int, std::string> bad_;
  FetchHook hook_;
};

struct Delivered {
  std::string shard;
  std::string key;
  bool maybe_redelivered;
};

// Remembers every record it acknowledged. Thread-safe.
class RecordingSink : public Sink {
 public:
  // Called before each write with the shard and the sink's write count (from 1);
  // a non-OK result fails the write.
  using WriteHook = std::function<absl::Status(const Shard&, const RecordBatch&, int)>;

  explicit RecordingSink(std::vector<Delivered>* out, WriteHook hook = nullptr)
      : out_(out), hook_(std::move(hook)) {}

  absl::Status Write(const WriteRequest& request, WriteResult*) override {
    const Shard& shard = request.shard;
    const RecordBatch& batch = request.batch;
    int n;
    {
      absl::MutexLock lock(&mu_);
      n = ++writes_;
    }
    if (hook_) {
      absl::Status s = hook_(shard, batch, n);
      if (!s.ok()) return s;
    }
    absl::MutexLock lock(&mu_);
    for (const Record& r : batch.records())
      out_->push_back({shard.id, std::string(r.key), r.maybe_redelivered});
    return absl::OkStatus();
  }

 private:
  absl::Mutex mu_;
  std::vector<Delivered>* out_;
  WriteHook hook_;
  int writes_ = 0;
};

}  // namespace testing
}  // namespace recovery

#endif  // RECOVERY_TESTS_TESTING_FAKES_H_
