// Dead letters in the checkpoint store's database (postgres/schema.h), so
// that every worker's land in one place.
#include "recovery/dead_letter_store.h"

#include <map>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "json/json_writer.h"
#include "postgres/store_core.h"
#include "simdjson.h"
#include "util/time_format.h"

namespace recovery {
namespace {

// Dead letters in the store's database, so that every worker's land in one
// place. The key (job, shard, cursor, index) makes a redelivered page's
// letters land once.
class PostgresDeadLetterStore : public DeadLetterStore, public LetterReadback {
 public:
  PostgresDeadLetterStore(std::shared_ptr<StoreCore> core, bool keep_raw)
      : core_(std::move(core)), keep_raw_(keep_raw) {}

  LetterReadback* readback() override { return this; }

  absl::Status Add(const DeadLetter& l) override {
    Row row{std::string(l.job),
            std::string(l.shard_id),
            std::string(l.cursor),
            StrCat(l.index),
            std::string(l.reason),
            HexBytea(keep_raw_ ? l.raw : std::string_view()),
            std::string(l.source_id),
            FormatRfc3339(l.time),
            std::string(l.key),
            l.event_time == kUnknownEventTime ? std::string() : FormatRfc3339(l.event_time)};
    absl::MutexLock lock(&mu_);
    pending_[std::this_thread::get_id()].push_back(std::move(row));
    return absl::OkStatus();
  }

  absl::Status ForEachRaw(std::string_view job, const std::function<void(std::string_view)>& visit) override {
    RECOVERY_ASSIGN_OR_RETURN(pg::Pool::Handle c, core_->Connect());
    absl::StatusOr<pg::Result> rows =
        c->Exec(StrCat("SELECT encode(raw, 'hex') FROM ", core_->dead_letters_table(),
                       " WHERE job = $1 AND octet_length(raw) > 0"),  // purged or not kept: nothing to claim
                {job});
    if (!rows.ok()) {
      return absl::Status(rows.status().code(),
                          StrCat("dead letters (", core_->Describe(), "): ", rows.status().message()));
    }
    for (int i = 0; i < rows->rows(); ++i) visit(absl::HexStringToBytes(ToAbsl(rows->Get(i, 0))));
    return absl::OkStatus();
  }

  // Letters are listed by their key, (shard, cursor, index); the id is that
  // key as a JSON object. A letter's state is its latest mark.
  absl::Status ListLetters(std::string_view job, std::string_view replay, std::string_view after,
                           size_t limit, std::vector<ListedLetter>* out) override {
    Key from;
    if (!after.empty()) {
      RECOVERY_ASSIGN_OR_RETURN(from, ParseId(after));
    }
    RECOVERY_ASSIGN_OR_RETURN(pg::Pool::Handle c, core_->Connect());
    const std::string& marks = core_->letter_marks_table();
    auto same_letter = [](std::string_view m) {
      return StrCat(m, ".job = d.job AND ", m, ".shard = d.shard AND ", m, ".cursor = d.cursor AND ", m,
                    ".record_index = d.record_index");
    };
    const std::string sql = StrCat(
        "SELECT d.shard, d.cursor, d.record_index, COALESCE(m.reason, d.reason), encode(d.raw, 'hex'), "
        "d.source_id, (extract(epoch FROM d.rejected_at) * 1000000)::bigint, "
        "(SELECT count(*) FROM ",
        marks, " a WHERE ", same_letter("a"), " AND a.outcome = 'failed again'), d.record_key FROM ",
        core_->dead_letters_table(), " d LEFT JOIN LATERAL (SELECT outcome, reason FROM ", marks, " l WHERE ",
        same_letter("l"),
        " AND l.replay <> $6 ORDER BY marked_at DESC LIMIT 1) m ON true WHERE d.job = $1 AND ",
        "octet_length(d.raw) > 0 AND ",  // a letter purged, or kept without its record, cannot be replayed
        "(m.outcome IS NULL OR m.outcome = 'failed again') AND ($2 OR (d.shard, d.cursor, d.record_index) > "
        "($3, $4, "
        "$5::integer)) ORDER BY d.shard, d.cursor, d.record_index LIMIT ",
        limit);
    absl::StatusOr<pg::Result> rows = c->Exec(
        sql, {job, after.empty() ? "true" : "false", from.shard, from.cursor, StrCat(from.index), replay});
    if (!rows.ok()) {
      return absl::Status(rows.status().code(),
                          StrCat("dead letters (", core_->Describe(), "): ", rows.status().message()));
    }
    for (int i = 0; i < rows->rows(); ++i) {
      ListedLetter l;
      l.shard_id = std::string(rows->Get(i, 0));
      l.cursor = std::string(rows->Get(i, 1));
      (void)absl::SimpleAtoi(ToAbsl(rows->Get(i, 2)), &l.index);
      l.reason = std::string(rows->Get(i, 3));
      l.raw = absl::HexStringToBytes(ToAbsl(rows->Get(i, 4)));
      if (!rows->IsNull(i, 5)) l.source_id = std::string(rows->Get(i, 5));
      l.time = ParseMicros(rows->Get(i, 6));
      (void)absl::SimpleAtoi(ToAbsl(rows->Get(i, 7)), &l.attempts);
      if (!rows->IsNull(i, 8)) l.key = std::string(rows->Get(i, 8));
      l.id = IdOf(l.shard_id, l.cursor, l.index);
      out->push_back(std::move(l));
    }
    return absl::OkStatus();
  }

  absl::Status Mark(const LetterMark& m) override {
    RECOVERY_ASSIGN_OR_RETURN(Key key, ParseId(m.letter_id));
    MarkRow row{std::string(m.job),    std::move(key.shard),  std::move(key.cursor),
                StrCat(key.index),     std::string(m.replay), std::string(ReplayOutcomeName(m.outcome)),
                std::string(m.reason), FormatRfc3339(m.time)};
    absl::MutexLock lock(&mu_);
    pending_marks_[std::this_thread::get_id()].push_back(std::move(row));
    return absl::OkStatus();
  }

  // Empties the raw record of each letter rejected before `before`.
  absl::StatusOr<std::map<std::string, uint64_t>> Purge(std::string_view job, absl::Time before) override {
    RECOVERY_ASSIGN_OR_RETURN(pg::Pool::Handle c, core_->Connect());
    absl::StatusOr<pg::Result> rows =
        c->Exec(StrCat("UPDATE ", core_->dead_letters_table(),
                       " SET raw = ''::bytea WHERE job = $1 AND rejected_at < $2 AND octet_length(raw) > 0 "
                       "RETURNING shard"),
                {job, FormatRfc3339(before)});
    if (!rows.ok()) {
      return absl::Status(rows.status().code(),
                          StrCat("dead letters (", core_->Describe(), "): purge: ", rows.status().message()));
    }
    std::map<std::string, uint64_t> purged;
    for (int i = 0; i < rows->rows(); ++i) ++purged[std::string(rows->Get(i, 0))];
    return purged;
  }

  // The engine calls Add(), Mark() and Flush() for one page from one thread.
  absl::StatusOr<std::string> Flush() override {
    std::vector<Row> rows;
    std::vector<MarkRow> marks;
    {
      absl::MutexLock lock(&mu_);
      auto it = pending_.find(std::this_thread::get_id());
      if (it != pending_.end()) {
        rows = std::move(it->second);
        pending_.erase(it);
      }
      auto m = pending_marks_.find(std::this_thread::get_id());
      if (m != pending_marks_.end()) {
        marks = std::move(m->second);
        pending_marks_.erase(m);
      }
    }
    if (rows.empty() && marks.empty()) return std::string();
    RECOVERY_ASSIGN_OR_RETURN(pg::Pool::Handle c, core_->Connect());
    absl::Status s = c->Run("BEGIN");
    for (size_t i = 0; s.ok() && i < rows.size(); ++i) {
      const Row& r = rows[i];
      s = c->Exec(
               StrCat("INSERT INTO ", core_->dead_letters_table(),
                      " (job, shard, cursor, record_index, reason, raw, source_id, rejected_at, record_key, "
                      "event_time) VALUES ($1, $2, $3, $4, $5, $6::bytea, $7, $8, $9, $10) ON CONFLICT DO "
                      "NOTHING"),
               {r.job, r.shard, r.cursor, r.index, r.reason, r.raw,
                r.source_id.empty() ? pg::Param() : pg::Param(r.source_id), r.time,
                r.key.empty() ? pg::Param() : pg::Param(r.key),
                r.event_time.empty() ? pg::Param() : pg::Param(r.event_time)})
              .status();
    }
    // A page replayed again after a crash marks its letters again: the same
    // replay's mark is replaced, not added.
    for (size_t i = 0; s.ok() && i < marks.size(); ++i) {
      const MarkRow& r = marks[i];
      s = c->Exec(
               StrCat(
                   "INSERT INTO ", core_->letter_marks_table(),
                   " VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (job, shard, cursor, record_index, "
                   "replay) DO UPDATE SET outcome = EXCLUDED.outcome, reason = EXCLUDED.reason, "
                   "marked_at = EXCLUDED.marked_at"),
               {r.job, r.shard, r.cursor, r.index, r.replay, r.outcome,
                r.reason.empty() ? pg::Param() : pg::Param(r.reason), r.time})
              .status();
    }
    if (s.ok()) s = c->Run("COMMIT");
    if (!s.ok()) {
      (void)c->Run("ROLLBACK");  // the engine retries Add() and Flush() for the whole page
      return absl::Status(s.code(), StrCat("dead letters (", core_->Describe(), "): ", s.message()));
    }
    return std::string();
  }

 private:
  struct Row {
    std::string job, shard, cursor, index, reason, raw, source_id, time, key, event_time;
  };
  struct MarkRow {
    std::string job, shard, cursor, index, replay, outcome, reason, time;
  };
  struct Key {
    std::string shard, cursor;
    int64_t index = 0;
  };
  static std::string IdOf(std::string_view shard, std::string_view cursor, size_t index) {
    std::string id;
    JsonObjectWriter(&id).Str("shard", shard).Str("cursor", cursor).Uint("index", index).Close();
    return id;
  }
  static absl::StatusOr<Key> ParseId(std::string_view id) {
    simdjson::dom::parser parser;
    simdjson::dom::element e;
    std::string_view shard, cursor;
    int64_t index = 0;
    if (parser.parse(id.data(), id.size()).get(e) != simdjson::SUCCESS ||
        e["shard"].get_string().get(shard) != simdjson::SUCCESS ||
        e["cursor"].get_string().get(cursor) != simdjson::SUCCESS ||
        e["index"].get_int64().get(index) != simdjson::SUCCESS) {
      return absl::InvalidArgumentError(
          StrCat("dead letters: \"", id,
                 "\" is not a letter id of a PostgreSQL store ({\"shard\",\"cursor\",\"index\"})"));
    }
    return Key{std::string(shard), std::string(cursor), index};
  }
  static std::string HexBytea(std::string_view bytes) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out = "\\x";
    for (unsigned char ch : bytes) {
      out.push_back(kHex[ch >> 4]);
      out.push_back(kHex[ch & 15]);
    }
    return out;
  }

  std::shared_ptr<StoreCore> core_;
  const bool keep_raw_;
  absl::Mutex mu_;
  std::unordered_map<std::thread::id, std::vector<Row>> pending_ ABSL_GUARDED_BY(mu_);
  std::unordered_map<std::thread::id, std::vector<MarkRow>> pending_marks_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

absl::StatusOr<std::unique_ptr<DeadLetterStore>> NewPostgresDeadLetterStore(
    PostgresDeadLetterOptions options) {
  if (options.dsn.empty()) return absl::InvalidArgumentError("dead_letters.dsn: required but missing");
  PostgresCheckpointOptions core;  // the connection and the schema; no leases
  core.dsn = std::move(options.dsn);
  core.schema = options.schema.empty() ? "public" : std::move(options.schema);
  core.connect_timeout = options.connect_timeout;
  return std::unique_ptr<DeadLetterStore>(
      new PostgresDeadLetterStore(std::make_shared<StoreCore>(std::move(core)), options.keep_raw));
}

}  // namespace recovery
