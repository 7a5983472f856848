// Adapters from the C plug-in vtables (c.h) to the C++ interfaces: each owns
// its vtable's user_data, and destroy() runs exactly once.
#ifndef RECOVERY_CAPI_PLUGINS_H_
#define RECOVERY_CAPI_PLUGINS_H_

#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "capi/internal.h"
#include "checkpoint/checkpoint_codec.h"
#include "checkpoint/process_locks.h"
#include "recovery/checkpoint_store.h"
#include "recovery/dead_letter_store.h"
#include "recovery/mapper.h"
#include "recovery/sink.h"
#include "recovery/source.h"
#include "sinks/present_keys.h"
#include "util/status_macros.h"

namespace recovery::capi {

// Owns a vtable's user_data: destroy() runs once, when this goes.
template <typename VTable>
class Plugin {
 public:
  explicit Plugin(const VTable& v) : v_(v) {}
  ~Plugin() {
    if (v_.destroy != nullptr) v_.destroy(v_.user_data);
  }
  Plugin(const Plugin&) = delete;
  Plugin& operator=(const Plugin&) = delete;
  const VTable& v() const { return v_; }

 private:
  VTable v_;
};

// The records of a batch as the C ABI lends them to a callback (views into the batch).
inline void BorrowRecords(absl::Span<const Record> records, std::vector<recovery_record_t>* out) {
  out->clear();
  for (const Record& r : records) {
    out->push_back({r.key.data(), r.key.size(), Micros(r.event_time), r.payload.data(), r.payload.size(),
                    static_cast<uint8_t>(r.maybe_redelivered)});
  }
}

class CSink : public Sink {
 public:
  explicit CSink(const recovery_sink_vtable_t& v) : plugin_(v) {}
  absl::Status Write(const WriteRequest& request, WriteResult*) override {
    absl::MutexLock lock(&mu_);
    BorrowRecords(request.batch.records(), &records_);
    recovery_error_t error;
    const int code = plugin_.v().write(plugin_.v().user_data, request.shard.id.c_str(), records_.data(),
                                       records_.size(), &error);
    return CallbackStatus(code, error, "sink");
  }

 private:
  Plugin<recovery_sink_vtable_t> plugin_;
  absl::Mutex mu_;
  std::vector<recovery_record_t> records_ ABSL_GUARDED_BY(mu_);
};

// Versions 2 and 3: rejections from `write`, the optional presence check,
// and (version 3) the optional count by event time for reconcile.
template <typename VTable>
class CSinkOf : public Sink, public PresenceCheck, public DestinationCounter {
 public:
  explicit CSinkOf(const VTable& v) : plugin_(v) {}
  absl::Status Write(const WriteRequest& request, WriteResult* written) override {
    absl::MutexLock lock(&mu_);
    BorrowRecords(request.batch.records(), &records_);
    recovery_sink_result_t result{
        &written->rejected, records_.size(), {}, std::string(request.job), std::string(request.run_id)};
    recovery_error_t error;
    const VTable& v = plugin_.v();
    const char* shard = request.shard.id.c_str();
    const int code = v.write_v2 != nullptr
                         ? v.write_v2(v.user_data, shard, records_.data(), records_.size(), &result, &error)
                         : v.write(v.user_data, shard, records_.data(), records_.size(), &error);
    RECOVERY_RETURN_IF_ERROR(CallbackStatus(code, error, "sink"));
    if (!result.error.empty()) return absl::InternalError(StrCat("sink callback: ", result.error));
    return absl::OkStatus();
  }

  PresenceCheck* presence() override { return plugin_.v().present != nullptr ? this : nullptr; }

  DestinationCounter* counter() override {
    if constexpr (std::is_same_v<VTable, recovery_sink_vtable_v3_t>) {
      return plugin_.v().count != nullptr ? this : nullptr;
    } else {
      return nullptr;
    }
  }

  absl::Status Check(const Shard& shard, absl::Span<const Record> records, PresenceAnswer* answer) override {
    absl::MutexLock lock(&mu_);
    BorrowRecords(records, &records_);
    recovery_presence_t presence;
    recovery_error_t error;
    const int code = plugin_.v().present(plugin_.v().user_data, shard.id.c_str(), records_.data(),
                                         records_.size(), &presence, &error);
    RECOVERY_RETURN_IF_ERROR(CallbackStatus(code, error, "presence"));
    if (presence.failed)
      return absl::ResourceExhaustedError("presence callback: a key could not be recorded");
    std::vector<std::string_view> keys(presence.keys.begin(), presence.keys.end());
    MarkPresentKeys(records, keys, answer);
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<uint64_t>> CountByEventTime(absl::Time start, absl::Duration width,
                                                         size_t buckets) override {
    if constexpr (std::is_same_v<VTable, recovery_sink_vtable_v3_t>) {
      std::vector<uint64_t> counts(buckets, 0);
      absl::MutexLock lock(&mu_);
      recovery_error_t error;
      const int code = plugin_.v().count(plugin_.v().user_data, Micros(start),
                                         absl::ToInt64Microseconds(width), buckets, counts.data(), &error);
      RECOVERY_RETURN_IF_ERROR(CallbackStatus(code, error, "sink count"));
      return counts;
    } else {
      return absl::UnimplementedError("a sink before version 3 cannot count");  // counter() is null
    }
  }

 private:
  Plugin<VTable> plugin_;
  absl::Mutex mu_;
  std::vector<recovery_record_t> records_ ABSL_GUARDED_BY(mu_);
};
using CSinkV2 = CSinkOf<recovery_sink_vtable_v2_t>;
using CSinkV3 = CSinkOf<recovery_sink_vtable_v3_t>;

class CMapper : public Mapper {
 public:
  explicit CMapper(const recovery_mapper_vtable_t& v) : plugin_(v) {}
  MapOutcome Map(const RawRecord& raw, const Shard& shard, RecordBatch* out,
                 std::string* reason) const override {
    recovery_map_output_t output{out};
    recovery_error_t error;
    const int code = plugin_.v().map(plugin_.v().user_data, shard.id.c_str(), raw.data.data(),
                                     raw.data.size(), &output, &error);
    if (code == RECOVERY_MAP_EMIT && output.set) return MapOutcome::kEmitted;
    if (output.set) out->PopBack();
    if (output.failure.failed) {  // the raw record goes to dead letters, whole
      *reason = StrCat("mapper callback: ", output.failure.Describe("recovery_map_output_set"));
      return MapOutcome::kRejected;
    }
    if (code == RECOVERY_MAP_DROP) return MapOutcome::kDropped;
    if (code == RECOVERY_MAP_EMIT) {
      *reason = "mapper callback returned RECOVERY_MAP_EMIT without calling recovery_map_output_set";
    } else if (code == RECOVERY_MAP_REJECT) {
      *reason = error.message.empty() ? "rejected by the mapper callback" : error.message;
    } else {
      *reason = StrCat("mapper callback returned ", code, error.message.empty() ? "" : ": ", error.message);
    }
    return MapOutcome::kRejected;
  }

 private:
  Plugin<recovery_mapper_vtable_t> plugin_;
};

// Both source vtables (version 2 adds `commit`; its first fields are version 1's).
template <typename VTable>
class CSourceOf : public Source {
 public:
  explicit CSourceOf(const VTable& v) : plugin_(v) {}

  absl::StatusOr<std::unique_ptr<ShardReader>> Open(const Shard& shard, std::string_view cursor,
                                                    const ShardContext&) override {
    return std::unique_ptr<ShardReader>(new Reader(plugin_.v(), shard, std::string(cursor)));
  }
  // Only a version 2 source with a commit callback acknowledges anything.
  bool commit_needs_saved_checkpoint() const override {
    if constexpr (std::is_same_v<VTable, recovery_source_vtable_v2_t>) return plugin_.v().commit != nullptr;
    return false;
  }

 private:
  class Reader : public ShardReader {
   public:
    Reader(const VTable& v, Shard shard, std::string cursor)
        : v_(v), shard_(std::move(shard)), cursor_(std::move(cursor)) {}
    absl::Status Next(Page* page) override {
      recovery_page_t handle{page};
      recovery_error_t error;
      const int code = v_.fetch(v_.user_data, shard_.id.c_str(), Micros(shard_.start), Micros(shard_.end),
                                cursor_.data(), cursor_.size(), &handle, &error);
      if (absl::Status s = CallbackStatus(code, error, "source fetch"); !s.ok()) return s;
      if (handle.failure.failed) {  // a record or the cursor is missing: the page must not count
        return absl::ResourceExhaustedError(StrCat(
            "source fetch callback, shard ", shard_.id, ": ", handle.failure.Describe("recovery_page_add"),
            "; the page is fetched again from the same cursor on the next run"));
      }
      if (!handle.next_set) page->next_cursor = cursor_;
      if (!page->exhausted && page->next_cursor == cursor_) {
        return absl::DataLossError(ToAbsl(StrCat("source fetch callback: shard ", shard_.id,
                                                 " is not exhausted but the next "
                                                 "cursor is the one it was given (\"",
                                                 cursor_,
                                                 "\"); following it "
                                                 "would loop")));
      }
      page_cursor_ = std::move(cursor_);
      cursor_ = page->next_cursor;
      return absl::OkStatus();
    }

    absl::Status Commit(const Page& page, absl::Span<const RecordOutcome> outcomes) override {
      if constexpr (std::is_same_v<VTable, recovery_source_vtable_v2_t>) {
        if (v_.commit == nullptr) return absl::OkStatus();
        outcomes_.assign(outcomes.size(), 0);
        for (size_t i = 0; i < outcomes.size(); ++i) outcomes_[i] = static_cast<uint8_t>(outcomes[i]);
        recovery_error_t error;
        const int code = v_.commit(v_.user_data, shard_.id.c_str(), page_cursor_.data(), page_cursor_.size(),
                                   page.next_cursor.data(), page.next_cursor.size(), outcomes_.data(),
                                   outcomes_.size(), &error);
        return CallbackStatus(code, error, "source commit");
      } else {
        return absl::OkStatus();
      }
    }

   private:
    const VTable& v_;
    const Shard shard_;
    std::string cursor_;       // where the next fetch starts
    std::string page_cursor_;  // where the page last fetched started
    std::vector<uint8_t> outcomes_;
  };

  Plugin<VTable> plugin_;
};
using CSource = CSourceOf<recovery_source_vtable_t>;
using CSourceV2 = CSourceOf<recovery_source_vtable_v2_t>;

// Dead letters to a plug-in. Calls never overlap; the commit token is empty
// (the plug-in keeps what it was given, and a page whose checkpoint did not
// move hands its letters over again).
class CDeadLetterStore : public DeadLetterStore {
 public:
  explicit CDeadLetterStore(const recovery_dead_letter_vtable_t& v) : plugin_(v) {}

  absl::Status Add(const DeadLetter& letter) override {
    const std::string job(letter.job), shard(letter.shard_id);
    const recovery_dead_letter_t c{
        job.c_str(),       shard.c_str(),           letter.cursor.data(),    letter.cursor.size(),
        letter.index,      letter.reason.data(),    letter.reason.size(),    letter.raw.data(),
        letter.raw.size(), letter.source_id.data(), letter.source_id.size(), Micros(letter.time)};
    absl::MutexLock lock(&mu_);
    recovery_error_t error;
    return CallbackStatus(plugin_.v().add(plugin_.v().user_data, &c, &error), error, "dead letter add");
  }

  absl::StatusOr<std::string> Flush() override {
    if (plugin_.v().flush == nullptr) return std::string();
    absl::MutexLock lock(&mu_);
    recovery_error_t error;
    RECOVERY_RETURN_IF_ERROR(
        CallbackStatus(plugin_.v().flush(plugin_.v().user_data, &error), error, "dead letter flush"));
    return std::string();
  }

 private:
  Plugin<recovery_dead_letter_vtable_t> plugin_;
  absl::Mutex mu_;
};

class CCheckpointStore : public CheckpointStore {
 public:
  explicit CCheckpointStore(const recovery_checkpoint_store_vtable_t& v) : plugin_(v) {}

  absl::StatusOr<std::optional<Checkpoint>> Load(std::string_view job, std::string_view shard_id) override {
    const std::string j(job), s(shard_id);
    recovery_bytes_t bytes;
    recovery_error_t error;
    const int code = plugin_.v().load(plugin_.v().user_data, j.c_str(), s.c_str(), &bytes, &error);
    if (code == RECOVERY_NOT_FOUND) return std::nullopt;
    if (absl::Status st = CallbackStatus(code, error, "checkpoint load"); !st.ok()) return st;
    if (bytes.failure.failed) {
      return absl::ResourceExhaustedError(
          StrCat("checkpoint load callback: ", bytes.failure.Describe("recovery_bytes_set")));
    }
    absl::StatusOr<Checkpoint> c =
        DecodeCheckpoint(bytes.data, StrCat("(checkpoint store callback) ", j, "/", s));
    if (!c.ok()) return c.status();
    return std::optional<Checkpoint>(*std::move(c));
  }
  absl::Status Save(std::string_view job, std::string_view shard_id, const Checkpoint& checkpoint) override {
    const std::string j(job), s(shard_id), bytes = EncodeCheckpoint(job, shard_id, checkpoint);
    recovery_error_t error;
    const int code =
        plugin_.v().save(plugin_.v().user_data, j.c_str(), s.c_str(), bytes.data(), bytes.size(), &error);
    return CallbackStatus(code, error, "checkpoint save");
  }
  absl::Status Delete(std::string_view job, std::string_view shard_id) override {
    const std::string j(job), s(shard_id);
    recovery_error_t error;
    const int code = plugin_.v().remove(plugin_.v().user_data, j.c_str(), s.c_str(), &error);
    return code == RECOVERY_NOT_FOUND ? absl::OkStatus() : CallbackStatus(code, error, "checkpoint remove");
  }
  // Within this process only: a shared store needs its own locking (leases).
  absl::StatusOr<std::unique_ptr<JobLock>> Lock(std::string_view job, std::string_view scope) override {
    return locks_.Lock(job, scope);
  }

 private:
  Plugin<recovery_checkpoint_store_vtable_t> plugin_;
  ProcessLocks locks_;
};

}  // namespace recovery::capi

#endif  // RECOVERY_CAPI_PLUGINS_H_
