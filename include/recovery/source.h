// Sources pull raw records for one shard at a time, page by page, and say
// where the next page starts with an opaque cursor that the engine stores in
// the shard's checkpoint.
#ifndef RECOVERY_SOURCE_H_
#define RECOVERY_SOURCE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "recovery/export.h"
#include "recovery/record.h"
#include "recovery/shard.h"

namespace recovery {

// Every raw record is followed in memory by this many readable bytes, so
// parsers that read ahead (simdjson) can use it in place.
inline constexpr size_t kRawRecordPadding = 64;

struct RawRecord {
  std::string_view data;
  // Non-empty when the source already knows the record is unusable (a line
  // over the size limit, say): it goes to dead letters with this reason and
  // `data` holds a prefix of it.
  std::string_view error;
  // The source knows this record may have been delivered before (an SQS
  // message received more than once).
  bool maybe_redelivered = false;
  // The source's own name for the record (an SQS message id), or empty.
  // Carried into dead letters.
  std::string_view id;
};

// What became of each raw record of a page, told to ShardReader::Commit().
enum class RecordOutcome : uint8_t {
  kDelivered,       // acknowledged by the sink
  kDeadLettered,    // unusable: in the dead letters with its reason
  kDropped,         // the mapper's filter dropped it on purpose
  kOutOfWindow,     // its event time is outside the shard's window
  kAlreadyPresent,  // the sink already held it (skip_already_present): not delivered again
};

// Raw records of one page, owning their bytes. Not thread-safe.
class RECOVERY_EXPORT RawBatch {
 public:
  void Add(std::string_view data, bool maybe_redelivered = false, std::string_view id = {});
  void AddError(std::string_view data_prefix, std::string_view error, std::string_view id = {});
  void Clear();
  // Keeps the first `n` records, or drops the first `n`; the bytes of every
  // record stay where they are until Clear().
  void KeepFirst(size_t n);
  void DropFirst(size_t n);
  absl::Span<const RawRecord> records() const { return records_; }
  size_t size() const { return records_.size(); }
  bool empty() const { return records_.empty(); }

 private:
  internal::Arena arena_;
  std::vector<RawRecord> records_;
};

struct Page {
  RawBatch records;
  // Where the page after this one starts. Stored in the checkpoint once this
  // page is acknowledged; must be valid UTF-8 text or arbitrary bytes (the
  // checkpoint stores bytes that are not UTF-8 in base64).
  std::string next_cursor;
  // True when the source has proved that nothing follows in this shard: no
  // next cursor, end of file, or sorted data past the shard's end. A short
  // page alone is not proof.
  bool exhausted = false;
  uint64_t bytes = 0;  // bytes read from the source for this page
  // Fraction of the shard covered once this page is done, in [0, 1], or a
  // negative value when the source cannot tell (the engine then estimates it
  // from event times).
  double progress = -1;
  // How many records the source says the shard holds (an X-Total-Count
  // header, a "total" field), or -1. Compared with what was fetched once the
  // shard is exhausted; a mismatch is reported.
  int64_t reported_total = -1;

  void Clear() {
    records.Clear();
    next_cursor.clear();
    exhausted = false;
    bytes = 0;
    progress = -1;
    reported_total = -1;
  }
};

// The event a source counts (ShardContext::CountEvent) for each access token
// it fetched: the metric recovery_auth_refreshes_total.
inline constexpr std::string_view kAuthRefreshEvent = "auth_refresh";

// The gauges a source with adaptive concurrency reports
// (ShardContext::SetGauge): the requests it keeps in flight at most, and the
// requests a second it sends at most (0 while unbounded). The metrics
// recovery_concurrency_limit and recovery_request_rate_limit.
inline constexpr std::string_view kConcurrencyLimitGauge = "concurrency_limit";
inline constexpr std::string_view kRequestRateLimitGauge = "request_rate_limit";

// What the engine lends a shard reader, valid while the reader lives.
// Thread-safe.
class RECOVERY_EXPORT ShardContext {
 public:
  virtual ~ShardContext() = default;
  // Waits for `duration` unless the job stops first (cancellation, the error
  // budget); returns false if it stopped. Sources wait here (rate limits), not
  // in a plain sleep, so that cancellation is prompt.
  virtual bool Sleep(absl::Duration duration) const = 0;
  virtual bool Stopping() const = 0;
  // Records one request to the source for the metrics: its latency and HTTP
  // status (0 when there was no response).
  virtual void ObserveRequest(absl::Duration latency, int http_status) const {}
  // Counts `n` occurrences of a source-specific event ("sqs_deleted",
  // "sqs_visibility_extended", ...) for the metrics; kAuthRefreshEvent is
  // a metric of its own.
  virtual void CountEvent(std::string_view event, uint64_t n) const {}
  // Sets a source's gauge (kConcurrencyLimitGauge, kRequestRateLimitGauge)
  // for the metrics.
  virtual void SetGauge(std::string_view gauge, double value) const {}
  // Something an operator must know about the shard (the job's log, at
  // warning level, with the shard's id added to `fields_json`, one JSON object).
  virtual void Warn(std::string_view message, std::string_view fields_json) const {}
  // A response header about the vendor's quota (RateLimit-*, X-RateLimit-*,
  // Retry-After, the configured reset header), for `recovery probe`.
  virtual void SeeQuotaHeader(std::string_view name, std::string_view value) const {}
};

// What a queue says of itself without a receive (which would change it:
// visibility, receive counts), for `recovery probe`
// (Source::queue_description()).
struct QueueFacts {
  std::string queue;       // its URL or name
  int64_t visible = -1;    // messages ready to receive (approximate); -1: not said
  int64_t in_flight = -1;  // received by a consumer and not yet deleted
  int64_t delayed = -1;
  absl::Duration retention = absl::ZeroDuration();  // how long it keeps a message; 0: not said
  std::string redrive_policy;  // where it moves messages received too often, as it says; empty: nowhere
};

class RECOVERY_EXPORT QueueDescription {
 public:
  virtual ~QueueDescription() = default;
  // Asks the queue; receives nothing.
  virtual absl::StatusOr<QueueFacts> Describe() = 0;
};

// What a source assumes about the API behind it, for `recovery probe` to
// check against the API's real answers (Source::paging_claims()).
struct PagingFacts {
  // Records a full page holds: the page size the requests ask for. 0: unknown.
  int64_t page_size = 0;
  // A page shorter than page_size ends the shard.
  bool short_page_ends = false;
  // How the API is expected to say a page is the last, in words ("a page
  // without next_cursor"), for the report.
  std::string last_page_signal;
  // The requests carry the shard's window, so the API should return only
  // records inside it.
  bool filters_by_window = false;
  // The records come in ascending order of SortTimeOf(); with keyset, in
  // strictly ascending (SortTimeOf, SortIdOf).
  bool sorted = false;
  bool keyset = false;
  std::string sorted_by;  // where the order is read, for the report ("/created_at")
  // The pages report the shard's total (Page::reported_total).
  bool reports_total = false;
  // The job's own cap on requests a second, shared by its shards; 0: none.
  double requests_per_second = 0;
  // The settings the report's advice names ("source.page_size").
  std::string section = "source";
};

class RECOVERY_EXPORT PagingClaims {
 public:
  virtual ~PagingClaims() = default;
  virtual PagingFacts facts() const = 0;
  // The time the records are sorted by, read from `raw`; nullopt when it
  // cannot be read (or the source claims no order).
  virtual std::optional<absl::Time> SortTimeOf(const RawRecord& raw) const = 0;
  // With keyset paging: the id that breaks ties in the order; else empty.
  virtual std::string SortIdOf(const RawRecord& raw) const { return {}; }
};

// Reads one shard. Used by one thread at a time.
class RECOVERY_EXPORT ShardReader {
 public:
  ShardReader() = default;
  ShardReader(const ShardReader&) = delete;
  ShardReader& operator=(const ShardReader&) = delete;
  virtual ~ShardReader() = default;

  // Fills `page` (cleared by the caller) with the page at the current
  // position and moves the position to page->next_cursor. On error the
  // position does not move, so calling again retries the same page. In follow
  // mode Next() is called again after an exhausted page, to poll for records
  // that arrived since.
  virtual absl::Status Next(Page* page) = 0;

  // Called once the page's records were acknowledged by the sink (or went to
  // dead letters) and the checkpoint moved past it (saved, unless the source
  // says commit_needs_saved_checkpoint() is false), with one outcome per raw
  // record. Sources that must confirm consumption (SQS: delete the messages)
  // do it here.
  virtual absl::Status Commit(const Page& page, absl::Span<const RecordOutcome> outcomes) {
    return absl::OkStatus();
  }
};

// A source of raw records. Thread-safe: Open() may be called concurrently for
// different shards.
class RECOVERY_EXPORT Source {
 public:
  Source() = default;
  Source(const Source&) = delete;
  Source& operator=(const Source&) = delete;
  virtual ~Source() = default;

  // Opens `shard` positioned at `cursor` (empty: the shard's beginning). The
  // caller owns the reader; it must not outlive this source or `context`.
  virtual absl::StatusOr<std::unique_ptr<ShardReader>> Open(const Shard& shard, std::string_view cursor,
                                                            const ShardContext& context) = 0;

  // False when every shard reads the same records (a file export) and only
  // the window filter splits them. A record that cannot be mapped then has no
  // known shard: the engine dead-letters it once, in shard 0, not once per shard.
  virtual bool partitions_by_shard() const { return true; }

  // True for a queue: it has no ranges to split, so the engine plans the
  // job's window as one shard (open-ended in follow mode) and the source reads
  // in parallel on its own. The window filter still applies, and Commit()
  // learns which records fell outside it.
  virtual bool plans_one_shard() const { return false; }

  // True when a shard's position may stop being valid (opaque cursors that
  // expire): a reader then returns CursorExpiredError for it, and the engine
  // restarts the shard from its beginning, skipping the records the shard
  // delivered before (it keeps their key hashes, or asks the sink). The
  // engine refuses such a source when it can do neither.
  virtual bool cursors_may_expire() const { return false; }

  // Whether ShardReader::Commit() needs the page's checkpoint saved first.
  // With a sink that cannot roll back, the engine may otherwise leave the
  // save of a page's checkpoint to the shard's next batch (whose in-flight
  // mark holds it), so that a crash in between resumes at the page's own
  // cursor and delivers it again, flagged. A source whose Commit()
  // acknowledges something that reading the page again at that cursor
  // would need (a queue's receipts, a lease) keeps true, the default; one
  // whose Commit() does nothing, or leaves the page readable, says false.
  virtual bool commit_needs_saved_checkpoint() const { return true; }

  // Risky settings the operator should know about (an inline secret, TLS
  // verification off); the engine logs each as a warning when a run starts.
  virtual std::vector<std::string> ConfigWarnings() const { return {}; }
  // What the source assumes about its API's paging, for `recovery probe`; null
  // when it claims nothing it can name (the probe then marks those checks
  // "not checked").
  virtual const PagingClaims* paging_claims() const { return nullptr; }
  // For a queue: its description, read without receiving; null when the
  // source is no queue or cannot say.
  virtual QueueDescription* queue_description() { return nullptr; }
};

struct JsonlFileSourceOptions {
  std::string path;       // required: a file of JSON records, one per line
  int batch_size = 1000;  // records per page, 1 to 1,000,000
  // A longer line goes to dead letters (its first 256 bytes and the reason)
  // without being held in memory. 1 KiB to 1 GiB.
  size_t max_record_bytes = 16u << 20;
};

// Replays a JSON-lines export. The cursor is the byte offset of the next line.
// Every shard reads the whole file; the engine's window filter keeps each
// record in the shard its event time belongs to.
RECOVERY_EXPORT absl::StatusOr<std::unique_ptr<Source>> NewJsonlFileSource(JsonlFileSourceOptions options);

// Forwards every method to another source, as a base for sources that change
// one or two things about it; no ability is silently lost.
class RECOVERY_EXPORT SourceWrapper : public Source {
 public:
  // Borrows `target`, which must outlive the wrapper.
  explicit SourceWrapper(Source* target) : target_(target) {}
  // Owns `target`.
  explicit SourceWrapper(std::unique_ptr<Source> target) : owned_(std::move(target)), target_(owned_.get()) {}

  Source* target() const { return target_; }

  absl::StatusOr<std::unique_ptr<ShardReader>> Open(const Shard& shard, std::string_view cursor,
                                                    const ShardContext& context) override {
    return target_->Open(shard, cursor, context);
  }
  bool partitions_by_shard() const override { return target_->partitions_by_shard(); }
  bool plans_one_shard() const override { return target_->plans_one_shard(); }
  bool cursors_may_expire() const override { return target_->cursors_may_expire(); }
  bool commit_needs_saved_checkpoint() const override { return target_->commit_needs_saved_checkpoint(); }
  std::vector<std::string> ConfigWarnings() const override { return target_->ConfigWarnings(); }
  const PagingClaims* paging_claims() const override { return target_->paging_claims(); }
  QueueDescription* queue_description() override { return target_->queue_description(); }

 private:
  std::unique_ptr<Source> owned_;
  Source* target_;
};

}  // namespace recovery

#endif  // RECOVERY_SOURCE_H_
