// Where records that cannot be mapped go, with enough context to replay them.
#ifndef RECOVERY_DEAD_LETTER_STORE_H_
#define RECOVERY_DEAD_LETTER_STORE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "recovery/export.h"
#include "recovery/sink.h"

namespace recovery {

struct DeadLetter {
  std::string_view job;
  std::string_view shard_id;
  std::string_view cursor;  // the cursor of the page the record came from
  size_t index = 0;         // the record's position in that page
  std::string_view reason;
  std::string_view raw;        // the raw record as the source returned it
  std::string_view source_id;  // the source's name for it (an SQS message id), or empty
  absl::Time time;             // when it was rejected
  // The record's key and event time when the mapping got that far (a record
  // the sink refused, say); empty and kUnknownEventTime otherwise. Kept even
  // when the store keeps no raw records.
  std::string_view key;
  absl::Time event_time = kUnknownEventTime;
};

// A letter as a store lists it for replay (recovery replay).
struct ListedLetter {
  std::string id;  // the store's name for it, stable for as long as the store holds it
  std::string shard_id, cursor, reason, raw, source_id;
  size_t index = 0;
  absl::Time time;   // when it was first rejected
  int attempts = 0;  // replays that tried it and failed again
  std::string key;   // the record's key, where the store kept one
};

// What a replay made of a letter. Stored with the letter, which is never
// removed: a letter marked with any outcome but kFailedAgain is settled and
// no later replay lists it.
enum class ReplayOutcome { kDelivered, kAlreadyPresent, kDropped, kOutOfWindow, kFailedAgain };
RECOVERY_EXPORT std::string_view ReplayOutcomeName(ReplayOutcome outcome);

struct LetterMark {
  std::string_view job;
  std::string_view letter_id;  // ListedLetter::id
  std::string_view replay;     // the replay's shard ("replay-2")
  ReplayOutcome outcome = ReplayOutcome::kDelivered;
  std::string_view reason;  // kFailedAgain: why, which becomes the letter's reason
  absl::Time time;
};

// What a store that can read its letters back offers: the claims a job's
// runs share, and replay (recovery replay). Owned by its store
// (DeadLetterStore::readback()).
class RECOVERY_EXPORT LetterReadback {
 public:
  virtual ~LetterReadback() = default;

  // Calls `visit` with the raw record of every letter the store holds for
  // `job` (after Open()). The engine uses it to dead-letter a record whose
  // event time cannot be read once per job, however many shards an API that
  // ignores its filter hands it to (without it, once per run).
  virtual absl::Status ForEachRaw(std::string_view job,
                                  const std::function<void(std::string_view raw)>& visit) = 0;

  // For replay `replay` ("replay-2"). Appends to `out` up to `limit` letters
  // of `job` that no other replay has settled, in the store's order, starting
  // after the letter `after` (empty: from the first). Fewer than `limit`
  // means there are no more. The order is stable, so a replay's cursor is the
  // last id it took. Letters `replay` itself marked are listed again: past
  // its cursor they were marked by a batch whose checkpoint never moved (a
  // crash), and must be taken again.
  virtual absl::Status ListLetters(std::string_view job, std::string_view replay, std::string_view after,
                                   size_t limit, std::vector<ListedLetter>* out) = 0;

  // Records what a replay made of a letter. Buffered like
  // DeadLetterStore::Add(): durable with the next Flush(), and rolled back
  // with it.
  virtual absl::Status Mark(const LetterMark& mark) = 0;
  // Retention (`recovery purge --dead-letters`): drops the raw record of
  // every letter of `job` rejected before `before`, keeping its place,
  // reason, key and event time; a purged letter is never listed for a replay
  // again. Called with no run of the job under way. Returns how many letters
  // each shard had purged now. Unimplemented unless the store offers it.
  virtual absl::StatusOr<std::map<std::string, uint64_t>> Purge(std::string_view job, absl::Time before) {
    return absl::UnimplementedError("this dead-letter store cannot purge its letters");
  }
};

// Like a sink: Add() buffers, Flush() makes everything added durable and
// returns a commit token stored in the shard's checkpoint. Calls for different
// shards may come concurrently unless serialize_commits() is true.
class RECOVERY_EXPORT DeadLetterStore {
 public:
  DeadLetterStore() = default;
  DeadLetterStore(const DeadLetterStore&) = delete;
  DeadLetterStore& operator=(const DeadLetterStore&) = delete;
  virtual ~DeadLetterStore() = default;

  virtual absl::Status Open(const SinkOpenContext& context) { return absl::OkStatus(); }
  virtual absl::Status Add(const DeadLetter& letter) = 0;
  virtual absl::StatusOr<std::string> Flush() = 0;
  virtual bool serialize_commits() const { return false; }

  // Reading letters back (claims shared across runs, replay), or null when
  // the store cannot: a replay with such a store is refused when it is
  // created. Owned by the store; lives as long as it.
  virtual LetterReadback* readback() { return nullptr; }
};

// JSON lines: {"time","job","shard","cursor","index","source_id","key","event_time","reason","raw"}
// ("raw_base64" when the raw record is not UTF-8; "source_id", "key" and
// "event_time" only when known). Exactly once, like the
// JSON-lines sink. A letter's id is the byte offset of its line; a replay
// appends a line {"time","job","mark","replay","outcome"[,"reason"]} whose
// "mark" is that id.
RECOVERY_EXPORT absl::StatusOr<std::unique_ptr<DeadLetterStore>> NewFileDeadLetterStore(std::string path,
                                                                                        bool fsync = true);
// The same; with `keep_raw` false a letter keeps its reason, place, key and
// event time but not the raw record ("raw_kept": false), and cannot be
// replayed. A purged letter's line is rewritten in place, the same length,
// without its raw record ("purged": the time).
RECOVERY_EXPORT absl::StatusOr<std::unique_ptr<DeadLetterStore>> NewFileDeadLetterStore(std::string path,
                                                                                        bool fsync,
                                                                                        bool keep_raw);

// Forwards every method to another store, as a base for stores that change
// one or two things about it; no ability (listing and marking letters for a
// replay) is silently lost.
class RECOVERY_EXPORT DeadLetterStoreWrapper : public DeadLetterStore {
 public:
  // Borrows `target`, which must outlive the wrapper.
  explicit DeadLetterStoreWrapper(DeadLetterStore* target) : target_(target) {}
  // Owns `target`.
  explicit DeadLetterStoreWrapper(std::unique_ptr<DeadLetterStore> target)
      : owned_(std::move(target)), target_(owned_.get()) {}

  DeadLetterStore* target() const { return target_; }

  absl::Status Open(const SinkOpenContext& context) override { return target_->Open(context); }
  absl::Status Add(const DeadLetter& letter) override { return target_->Add(letter); }
  absl::StatusOr<std::string> Flush() override { return target_->Flush(); }
  bool serialize_commits() const override { return target_->serialize_commits(); }
  LetterReadback* readback() override { return target_->readback(); }

 private:
  std::unique_ptr<DeadLetterStore> owned_;
  DeadLetterStore* target_;
};

// Keeps dead letters in memory; `sink` (borrowed, may be null) receives a copy
// of each as it is added. For tests and dry runs.
struct StoredDeadLetter {
  std::string shard_id, cursor, reason, raw, source_id;
  size_t index = 0;
  std::string replayed;     // the outcome of the last replay that tried it, or empty
  std::string replayed_by;  // that replay's shard
};
RECOVERY_EXPORT std::unique_ptr<DeadLetterStore> NewMemoryDeadLetterStore(
    std::vector<StoredDeadLetter>* sink = nullptr);

}  // namespace recovery

#endif  // RECOVERY_DEAD_LETTER_STORE_H_
