// Components that forward to one owned elsewhere, so an owner can lend its
// component to a Backfiller (which takes ownership of what it is given) and
// keep it across runs. Each forwards every virtual method of its interface:
// one that did not would silently fall back to the default (a leasing store
// that stops leasing); tests/borrowed_test.cc checks each.
#ifndef RECOVERY_BORROWED_H_
#define RECOVERY_BORROWED_H_

#include "recovery/checkpoint_store.h"
#include "recovery/dead_letter_store.h"
#include "recovery/mapper.h"
#include "recovery/sink.h"
#include "recovery/source.h"

namespace recovery {

class BorrowedSource : public Source {
 public:
  explicit BorrowedSource(Source* s) : s_(s) {}
  absl::StatusOr<std::unique_ptr<ShardReader>> Open(const Shard& shard, std::string_view cursor,
                                                    const ShardContext& context) override {
    return s_->Open(shard, cursor, context);
  }
  bool partitions_by_shard() const override { return s_->partitions_by_shard(); }
  bool plans_one_shard() const override { return s_->plans_one_shard(); }
  std::vector<std::string> ConfigWarnings() const override { return s_->ConfigWarnings(); }

 private:
  Source* s_;
};

class BorrowedMapper : public Mapper {
 public:
  explicit BorrowedMapper(const Mapper* m) : m_(m) {}
  MapOutcome Map(const RawRecord& raw, const Shard& shard, RecordBatch* out,
                 std::string* reason) const override {
    return m_->Map(raw, shard, out, reason);
  }
  absl::Time EventTimeOf(const RawRecord& raw) const override { return m_->EventTimeOf(raw); }

 private:
  const Mapper* m_;
};

class BorrowedSink : public Sink {
 public:
  explicit BorrowedSink(Sink* s) : s_(s) {}
  absl::Status Open(const SinkOpenContext& c) override { return s_->Open(c); }
  absl::StatusOr<std::string> Write(const Shard& shard, const RecordBatch& b,
                                    std::vector<SinkRejection>* rejected) override {
    return s_->Write(shard, b, rejected);
  }
  absl::StatusOr<std::string> WriteFenced(const Shard& shard, const RecordBatch& b,
                                          std::vector<SinkRejection>* rejected,
                                          const WriteFence& fence) override {
    return s_->WriteFenced(shard, b, rejected, fence);
  }
  absl::Status Close() override { return s_->Close(); }
  bool serialize_commits() const override { return s_->serialize_commits(); }
  bool defers_sync() const override { return s_->defers_sync(); }
  absl::Status Sync() override { return s_->Sync(); }
  bool rolls_back_uncommitted() const override { return s_->rolls_back_uncommitted(); }
  bool counts_by_event_time() const override { return s_->counts_by_event_time(); }
  absl::StatusOr<std::vector<uint64_t>> CountByEventTime(absl::Time start, absl::Duration width,
                                                         size_t buckets) override {
    return s_->CountByEventTime(start, width, buckets);
  }
  bool checks_presence() const override { return s_->checks_presence(); }
  absl::Status CheckPresence(const Shard& shard, absl::Span<const Record> records,
                             PresenceAnswer* answer) override {
    return s_->CheckPresence(shard, records, answer);
  }
  absl::Status OpenForReading() override { return s_->OpenForReading(); }

 private:
  Sink* s_;
};

class BorrowedCheckpointStore : public CheckpointStore {
 public:
  explicit BorrowedCheckpointStore(CheckpointStore* s) : s_(s) {}
  absl::StatusOr<std::optional<Checkpoint>> Load(std::string_view j, std::string_view s) override {
    return s_->Load(j, s);
  }
  absl::StatusOr<std::vector<std::optional<Checkpoint>>> LoadMany(
      std::string_view j, absl::Span<const std::string> ids) override {
    return s_->LoadMany(j, ids);
  }
  absl::Status Save(std::string_view j, std::string_view s, const Checkpoint& c) override {
    return s_->Save(j, s, c);
  }
  absl::Status Delete(std::string_view j, std::string_view s) override { return s_->Delete(j, s); }
  bool saves_atomically() const override { return s_->saves_atomically(); }
  absl::Status SaveAll(std::string_view j, absl::Span<const std::pair<std::string, Checkpoint>> c) override {
    return s_->SaveAll(j, c);
  }
  absl::StatusOr<std::unique_ptr<JobLock>> Lock(std::string_view j, std::string_view scope) override {
    return s_->Lock(j, scope);
  }
  bool leases_shards() const override { return s_->leases_shards(); }
  absl::StatusOr<std::unique_ptr<ShardLease>> ClaimShard(std::string_view j, std::string_view s) override {
    return s_->ClaimShard(j, s);
  }
  absl::StatusOr<std::vector<LeaseInfo>> Leases(std::string_view j) override { return s_->Leases(j); }

 private:
  CheckpointStore* s_;
};

class BorrowedDeadLetterStore : public DeadLetterStore {
 public:
  explicit BorrowedDeadLetterStore(DeadLetterStore* d) : d_(d) {}
  absl::Status Open(const SinkOpenContext& c) override { return d_->Open(c); }
  absl::Status Add(const DeadLetter& letter) override { return d_->Add(letter); }
  absl::StatusOr<std::string> Flush() override { return d_->Flush(); }
  bool serialize_commits() const override { return d_->serialize_commits(); }
  absl::Status ForEachRaw(std::string_view job,
                          const std::function<void(std::string_view raw)>& visit) override {
    return d_->ForEachRaw(job, visit);
  }
  absl::Status ListLetters(std::string_view job, std::string_view replay, std::string_view after,
                           size_t limit, std::vector<ListedLetter>* out) override {
    return d_->ListLetters(job, replay, after, limit, out);
  }
  absl::Status Mark(const LetterMark& mark) override { return d_->Mark(mark); }

 private:
  DeadLetterStore* d_;
};

}  // namespace recovery

#endif  // RECOVERY_BORROWED_H_
