// The PostgreSQL sink: each batch is one transaction of multi-row INSERT …
// ON CONFLICT statements. A batch the database refuses because of one row's
// values (SQLSTATE class 22 or 23) is rolled back and sent again under
// savepoints, halving the refused chunks until the bad rows stand alone: they
// go to dead letters with the database's message, the rest commits.
#include "recovery/sink.h"

#include <algorithm>
#include <numeric>

#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "postgres/pg.h"
#include "postgres/schema.h"
#include "postgres/sink_rows.h"
#include "recovery/postgres.h"
#include "recovery/status.h"
#include "simdjson.h"
#include "util/hash.h"
#include "util/status_macros.h"
#include "util/strings.h"
#include "util/time_format.h"

namespace recovery {
namespace {

using pg_rows::BuildRows;
using pg_rows::Column;
using pg_rows::CopyText;
using pg_rows::DropRepeatedKeys;
using pg_rows::From;
using pg_rows::Rows;

// PostgreSQL caps a statement at 65535 parameters.
constexpr size_t kMaxParams = 65535;

// The provenance values where no batch is being written (the probe's shape
// check, the presence check): of the right kinds, so that they check the
// columns' types, and never compared (provenance is no conflict column).
pg_rows::Provenance ProbeProvenance() { return {"probe", "probe", "probe", FormatRfc3339(absl::Now())}; }

// Whether the column's type can hold what it is filled from ($key text, an
// $event_time timestamp, a $record object); adds to `errors` when not.
void CheckColumnType(const Column& col, std::vector<std::string>* errors) {
  const char k = col.category;
  const bool text = col.kind == From::kKey || col.kind == From::kJob || col.kind == From::kRunId ||
                    col.kind == From::kShard;
  if (text && !(k == 'S' || k == 'N' || k == 'U') && !col.json) {
    errors->push_back(StrCat("columns.", col.name, ": \"", col.from, "\" is text; column type ", col.type,
                             " cannot hold it"));
  }
  const bool time = col.kind == From::kEventTime || col.kind == From::kRecoveredAt;
  if (time && !(k == 'D' || k == 'S')) {
    errors->push_back(StrCat("columns.", col.name, ": \"", col.from, "\" is a timestamp; column type ",
                             col.type, " cannot hold it"));
  }
  if (col.kind == From::kRecord && !(col.json || k == 'S')) {
    errors->push_back(StrCat("columns.", col.name, ": \"$record\" is a JSON object; column type ", col.type,
                             " cannot hold it (use json or jsonb)"));
  }
}

class PostgresSink : public Sink, public PresenceCheck, public DestinationCounter, public ShapeCheck {
 public:
  explicit PostgresSink(PostgresSinkOptions options)
      : options_(std::move(options)),
        pool_(pg::ConnectOptions{options_.dsn, options_.connect_timeout, options_.statement_timeout}) {
    for (const PostgresColumn& c : options_.columns) {
      Column col;
      col.name = c.name;
      col.from = c.from;
      col.kind = pg_rows::FromOf(c.from);
      columns_.push_back(std::move(col));
    }
    if (options_.conflict_columns.empty()) {
      for (const Column& c : columns_) {
        if (c.kind == From::kKey) options_.conflict_columns.push_back(c.name);
      }
    }
    for (Column& c : columns_) {
      c.conflict = std::find(options_.conflict_columns.begin(), options_.conflict_columns.end(), c.name) !=
                   options_.conflict_columns.end();
    }
  }

  absl::Status Open(const SinkOpenContext&) override {
    RECOVERY_ASSIGN_OR_RETURN(pg::Pool::Handle c, pool_.Acquire());
    absl::Status s = Inspect(*c);
    if (!s.ok())
      return absl::Status(s.code(), StrCat("sink (", pg::Describe(options_.dsn), "): ", s.message()));
    return absl::OkStatus();
  }

  absl::Status OpenForReading() override { return Open(SinkOpenContext()); }  // Open() only reads

  // With its checkpoints in the same database, a leased shard's batch is
  // written in a transaction that first checks the shard's fencing token.
  SinkTraits traits() const override {
    SinkTraits t;
    t.fences_writes = !options_.fence_schema.empty();
    return t;
  }

  PresenceCheck* presence() override { return this; }
  // A table that deduplicates on the record's key alone.
  bool answers_by_key() const override {
    return std::any_of(columns_.begin(), columns_.end(), [](const Column& c) { return c.conflict; }) &&
           std::all_of(columns_.begin(), columns_.end(),
                       [](const Column& c) { return !c.conflict || c.kind == From::kKey; });
  }
  ShapeCheck* shape_check() override { return this; }

  absl::Status Inspect() override { return Open(SinkOpenContext()); }

  // Rows that can never fit (BuildRows: a value of the wrong kind, NULL in a
  // NOT NULL column), then every value cast to its column's type by the
  // database: a SELECT, nothing is written.
  absl::Status Refusals(absl::Span<const Record> records, std::vector<SinkRejection>* refused) override {
    Rows fit;
    BuildRows(columns_, records, ProbeProvenance(), &fit, refused);
    RECOVERY_ASSIGN_OR_RETURN(pg::Pool::Handle c, pool_.Acquire());
    std::vector<std::pair<size_t, size_t>> todo;  // (first, count), halved until a refused row is alone
    for (size_t first = 0; first < fit.index.size(); first += ChunkRows()) {
      todo.emplace_back(first, std::min(ChunkRows(), fit.index.size() - first));
    }
    while (!todo.empty()) {
      auto [first, count] = todo.back();
      todo.pop_back();
      std::vector<pg::Param> params;
      for (size_t i = first * columns_.size(); i < (first + count) * columns_.size(); ++i) {
        const auto& v = fit.values[i];
        params.push_back(v ? pg::Param(std::string_view(fit.text).substr(v->first, v->second))
                           : std::nullopt);
      }
      std::string sql = "SELECT count(*) FROM (VALUES ";
      for (size_t i = 0, p = 0; i < count; ++i) {
        sql += i == 0 ? "(" : ", (";
        for (size_t j = 0; j < columns_.size(); ++j)
          StrAppend(&sql, j == 0 ? "" : ", ", "$", ++p, "::", columns_[j].type);
        sql += ")";
      }
      sql += ") AS v";
      absl::Status st = c->Exec(sql, params).status();
      if (st.ok()) continue;
      if (!pg::IsRowError(st)) return st;
      if (count == 1) {
        refused->push_back({fit.index[first], std::string(st.message())});
      } else {
        todo.emplace_back(first + count / 2, count - count / 2);
        todo.emplace_back(first, count / 2);
      }
    }
    return absl::OkStatus();
  }

  // By the column filled from $event_time, when there is one.
  DestinationCounter* counter() override {
    const bool has_event_time = std::any_of(columns_.begin(), columns_.end(),
                                            [](const Column& c) { return c.kind == From::kEventTime; });
    return has_event_time ? this : nullptr;
  }

  // The table itself dedupes: no commit token needed.
  absl::Status Write(const WriteRequest& request, WriteResult* result) override {
    thread_local Rows rows;
    rows.Clear();
    std::vector<SinkRejection>* rejected = &result->rejected;
    BuildRows(columns_, request.batch.records(),
              {request.job, request.run_id, request.shard.id, FormatRfc3339(absl::Now())}, &rows, rejected);
    DropRepeatedKeys(columns_, options_.on_conflict != PostgresConflict::kNothing, &rows);
    if (rows.index.empty()) return absl::OkStatus();
    RECOVERY_ASSIGN_OR_RETURN(pg::Pool::Handle c, pool_.Acquire());
    const WriteFence* fence = options_.fence_schema.empty() ? nullptr : request.fence;
    absl::Status s = Send(*c, rows, rejected, fence);
    if (IsLeaseLost(s)) return s;
    if (!s.ok()) {
      return absl::Status(s.code(), StrCat("sink ", table_, " (", pg::Describe(options_.dsn), "), shard ",
                                           request.shard.id, ": ", s.message()));
    }
    return absl::OkStatus();
  }

  // In one query for every bucket.

  absl::StatusOr<std::vector<uint64_t>> CountByEventTime(absl::Time start, absl::Duration width,
                                                         size_t buckets) override {
    auto column = std::find_if(columns_.begin(), columns_.end(),
                               [](const Column& c) { return c.kind == From::kEventTime; });
    if (column == columns_.end()) return absl::FailedPreconditionError("the sink has no $event_time column");
    RECOVERY_ASSIGN_OR_RETURN(pg::Pool::Handle c, pool_.Acquire());
    absl::StatusOr<pg::Result> name = c->Exec("SELECT $1::regclass::text", {options_.table});
    if (!name.ok()) {
      return absl::Status(name.status().code(), StrCat("sink (", pg::Describe(options_.dsn), "): table ",
                                                       options_.table, ": ", name.status().message()));
    }
    const std::string col = StrCat(pg::QuoteIdent(column->name), "::timestamptz");
    const std::string from = FormatRfc3339(start),
                      to = FormatRfc3339(start + width * static_cast<int64_t>(buckets));
    const std::string seconds = StrCat(absl::ToInt64Seconds(width));
    absl::StatusOr<pg::Result> rows =
        c->Exec(StrCat("SELECT floor(extract(epoch FROM (", col,
                       " - $1::timestamptz)) / $3::int8)::int8, count(*) FROM ", name->Get(0, 0), " WHERE ",
                       col, " >= $1::timestamptz AND ", col, " < $2::timestamptz GROUP BY 1"),
                {from, to, seconds});
    if (!rows.ok()) {
      return absl::Status(rows.status().code(),
                          StrCat("sink ", name->Get(0, 0), " (", pg::Describe(options_.dsn),
                                 "): counting rows by ", column->name, ": ", rows.status().message()));
    }
    std::vector<uint64_t> counts(buckets, 0);
    for (int r = 0; r < rows->rows(); ++r) {
      int64_t b = -1;
      uint64_t n = 0;
      if (absl::SimpleAtoi(ToAbsl(rows->Get(r, 0)), &b) && absl::SimpleAtoi(ToAbsl(rows->Get(r, 1)), &n) &&
          b >= 0 && static_cast<size_t>(b) < buckets) {
        counts[b] = n;
      }
    }
    return counts;
  }

  // One SELECT for the page (more only past PostgreSQL's 65535 parameters):
  // the conflict-column values of every record, joined to the table on them.
  // A value the database cannot cast fails the statement: the chunk is then
  // halved until that record stands alone, and it counts as absent (Write()
  // will send it to dead letters with the database's message).
  absl::Status Check(const Shard& shard, absl::Span<const Record> records, PresenceAnswer* answer) override {
    thread_local Rows rows;
    rows.Clear();
    // Only the conflict columns, the identity the table deduplicates on: a
    // record whose identity the table holds is present, whatever else it has.
    std::vector<Column> identity;
    for (const Column& col : columns_) {
      if (col.conflict) identity.push_back(col);
    }
    std::vector<SinkRejection> unfit;  // no identity: never present, and Write() will reject them
    BuildRows(identity, records, ProbeProvenance(), &rows, &unfit);
    answer->present.assign(records.size(), false);
    if (rows.index.empty()) return absl::OkStatus();
    RECOVERY_ASSIGN_OR_RETURN(pg::Pool::Handle c, pool_.Acquire());
    const size_t chunk = std::max<size_t>(1, kMaxParams / (identity.size() + 1));
    std::vector<std::pair<size_t, size_t>> todo;  // (first, count), processed from the back
    for (size_t first = 0; first < rows.index.size(); first += chunk) {
      todo.emplace_back(first, std::min(chunk, rows.index.size() - first));
    }
    std::reverse(todo.begin(), todo.end());
    while (!todo.empty()) {
      auto [first, count] = todo.back();
      todo.pop_back();
      absl::Status s = Present(*c, rows, identity, first, count, answer);
      if (s.ok()) continue;
      if (!pg::IsRowError(s)) {
        return absl::Status(s.code(), StrCat("sink ", table_, " (", pg::Describe(options_.dsn), "), shard ",
                                             shard.id, ": presence check: ", s.message()));
      }
      if (count > 1) {
        todo.emplace_back(first + count / 2, count - count / 2);
        todo.emplace_back(first, count / 2);
      }
    }
    return absl::OkStatus();
  }

 private:
  // Reads the table's columns and unique indexes, and checks the options
  // against them, so a typo fails before the first batch.
  absl::Status Inspect(pg::Connection& c) {
    absl::StatusOr<pg::Result> name = c.Exec("SELECT $1::regclass::text", {options_.table});
    if (!name.ok()) return absl::Status(name.status().code(), StrCat("table: ", name.status().message()));
    table_ = std::string(name->Get(0, 0));
    RECOVERY_ASSIGN_OR_RETURN(
        pg::Result cols,
        c.Exec(
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod), t.typcategory, t.typname, a.attnotnull"
            " FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid"
            " WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped",
            {table_}));
    std::vector<std::string> errors;
    for (Column& col : columns_) {
      int found = -1;
      for (int i = 0; i < cols.rows(); ++i) {
        if (cols.Get(i, 0) == col.name) found = i;
      }
      if (found < 0) {
        errors.push_back(StrCat("columns.", col.name, ": table ", table_, " has no such column"));
        continue;
      }
      col.type = std::string(cols.Get(found, 1));
      col.category = cols.Get(found, 2).empty() ? 0 : cols.Get(found, 2)[0];
      col.json = cols.Get(found, 3) == "json" || cols.Get(found, 3) == "jsonb";
      col.not_null = cols.Get(found, 4) == "t";
      CheckColumnType(col, &errors);
    }
    if (options_.conflict_columns.empty()) {
      errors.push_back(
          "conflict_columns: none given and no column is filled from \"$key\": the sink upserts on the "
          "idempotency key, so it needs one of them");
    }
    for (const std::string& name : options_.conflict_columns) {
      if (std::none_of(columns_.begin(), columns_.end(), [&](const Column& c) { return c.name == name; })) {
        errors.push_back(StrCat("conflict_columns: \"", name, "\" is not one of the sink's columns"));
      }
    }
    if (!options_.conflict_columns.empty()) {
      std::vector<std::string> want = options_.conflict_columns;
      std::sort(want.begin(), want.end());
      const std::string wanted = Join(want, ",");
      RECOVERY_ASSIGN_OR_RETURN(
          pg::Result idx,
          c.Exec(
              "SELECT string_agg(a.attname::text, ',' ORDER BY a.attname::text)"
              " FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)"
              " WHERE i.indrelid = $1::regclass AND i.indisunique AND i.indpred IS NULL"
              " AND i.indexprs IS NULL GROUP BY i.indexrelid",
              {table_}));
      bool found = false;
      for (int i = 0; i < idx.rows(); ++i) found |= idx.Get(i, 0) == wanted;
      if (!found) {
        std::vector<std::string> quoted;
        for (const std::string& n : options_.conflict_columns) quoted.push_back(pg::QuoteIdent(n));
        errors.push_back(StrCat("conflict_columns: table ", table_, " has no unique index on exactly (",
                                wanted, "), which ON CONFLICT needs: CREATE UNIQUE INDEX ON ", table_, " (",
                                Join(quoted, ", "), ")"));
      }
    }
    if (!errors.empty()) return absl::InvalidArgumentError(ToAbsl(Join(errors, "; ")));
    BuildStatementParts();
    return absl::OkStatus();
  }

  void BuildStatementParts() {
    std::vector<std::string> names;
    for (const Column& c : columns_) names.push_back(pg::QuoteIdent(c.name));
    insert_prefix_ = StrCat("INSERT INTO ", table_, " AS t (", Join(names, ", "), ") VALUES ");
    // COPY's staging table: one per session and target table.
    std::vector<std::string> typed;
    for (const Column& c : columns_) typed.push_back(StrCat(pg::QuoteIdent(c.name), " ", c.type));
    const std::string stage =
        StrCat("pg_temp.recovery_stage_", absl::StrFormat("%016x", StableHash64(table_)));
    stage_create_ = StrCat("CREATE TEMP TABLE IF NOT EXISTS ", stage.substr(8), " (", Join(typed, ", "),
                           ") ON COMMIT DELETE ROWS");
    stage_copy_ = StrCat("COPY ", stage, " (", Join(names, ", "), ") FROM STDIN");
    std::vector<std::string> target, updates;
    for (const std::string& n : options_.conflict_columns) target.push_back(pg::QuoteIdent(n));
    for (const Column& c : columns_) {
      if (std::find(options_.conflict_columns.begin(), options_.conflict_columns.end(), c.name) ==
          options_.conflict_columns.end()) {
        updates.push_back(StrCat(pg::QuoteIdent(c.name), " = EXCLUDED.", pg::QuoteIdent(c.name)));
      }
    }
    insert_suffix_ = StrCat(" ON CONFLICT (", Join(target, ", "), ") DO ");
    if (options_.on_conflict != PostgresConflict::kNothing && !updates.empty()) {
      StrAppend(&insert_suffix_, "UPDATE SET ", Join(updates, ", "));
      if (options_.on_conflict == PostgresConflict::kNewer) {
        const std::string v = pg::QuoteIdent(options_.version_column);
        StrAppend(&insert_suffix_, " WHERE t.", v, " IS NULL OR t.", v, " < EXCLUDED.", v);
      }
    } else {
      StrAppend(&insert_suffix_, "NOTHING");
    }
    stage_insert_ = StrCat("INSERT INTO ", table_, " AS t (", Join(names, ", "), ") SELECT ",
                           Join(names, ", "), " FROM ", stage, insert_suffix_);
  }

  // Marks present the rows [first, first + count) the table holds: one statement.
  // Which rows of [first, first + count) the table holds; `rows` has the
  // values of `identity` (the conflict columns) only.
  absl::Status Present(pg::Connection& c, const Rows& rows, absl::Span<const Column> identity, size_t first,
                       size_t count, PresenceAnswer* answer) {
    std::vector<pg::Param> params;
    params.reserve(count * (identity.size() + 1));
    std::vector<std::string> ids;  // the params point into it: reserved, never reallocated
    ids.reserve(count);
    std::string sql = "SELECT v.i FROM (VALUES ";
    size_t p = 0;
    for (size_t r = first; r < first + count; ++r) {
      StrAppend(&sql, r == first ? "(" : ", (", "$", ++p, "::int8");
      ids.push_back(StrCat(rows.index[r]));
      params.push_back(pg::Param(ids.back()));
      for (size_t j = 0; j < identity.size(); ++j) {
        StrAppend(&sql, ", $", ++p, "::", identity[j].type);
        const auto& v = rows.values[r * identity.size() + j];
        params.push_back(v ? pg::Param(std::string_view(rows.text).substr(v->first, v->second))
                           : std::nullopt);
      }
      sql += ")";
    }
    sql += ") AS v(i";
    for (const Column& col : identity) StrAppend(&sql, ", ", pg::QuoteIdent(col.name));
    StrAppend(&sql, ") WHERE EXISTS (SELECT 1 FROM ", table_, " t WHERE ");
    for (size_t k = 0; k < identity.size(); ++k) {
      const std::string name = pg::QuoteIdent(identity[k].name);
      StrAppend(&sql, k == 0 ? "" : " AND ", "t.", name, " = v.", name);
    }
    sql += ")";
    RECOVERY_ASSIGN_OR_RETURN(pg::Result found, c.Exec(sql, params));
    for (int row = 0; row < found.rows(); ++row) {
      size_t i;
      if (absl::SimpleAtoi(ToAbsl(found.Get(row, 0)), &i) && i < answer->present.size())
        answer->present[i] = true;
    }
    return absl::OkStatus();
  }

  std::string InsertSql(size_t count) const {
    std::string sql = insert_prefix_;
    size_t p = 0;
    for (size_t i = 0; i < count; ++i) {
      sql += i == 0 ? "(" : ", (";
      for (size_t j = 0; j < columns_.size(); ++j) {
        StrAppend(&sql, j == 0 ? "" : ", ", "$", ++p, "::", columns_[j].type);
      }
      sql += ")";
    }
    sql += insert_suffix_;
    return sql;
  }

  absl::Status Insert(pg::Connection& c, const Rows& rows, size_t first, size_t count) {
    std::vector<pg::Param> params;
    params.reserve(count * columns_.size());
    for (size_t i = first * columns_.size(); i < (first + count) * columns_.size(); ++i) {
      const auto& v = rows.values[i];
      params.push_back(v ? pg::Param(std::string_view(rows.text).substr(v->first, v->second)) : std::nullopt);
    }
    return c.Exec(InsertSql(count), params).status();
  }

  size_t ChunkRows() const {
    return std::max<size_t>(1, std::min<size_t>(options_.rows_per_statement, kMaxParams / columns_.size()));
  }

  // Within the transaction: locks the shard's checkpoint row until it ends,
  // so no claim can move the token meanwhile, and checks the token is still
  // `fence`'s.
  absl::Status CheckFence(pg::Connection& c, const WriteFence& fence) {
    RECOVERY_ASSIGN_OR_RETURN(pg::Result r, c.Exec(StrCat("SELECT fencing_token FROM ",
                                                          PostgresTables(options_.fence_schema).checkpoints,
                                                          " WHERE job = $1 AND shard = $2 FOR SHARE"),
                                                   {fence.job, fence.shard_id}));
    const std::string token = StrCat(fence.fencing_token);
    if (r.rows() == 1 && r.Get(0, 0) == token) return absl::OkStatus();
    return LeaseLostError(StrCat(
        "lease lost: shard ", fence.shard_id, " of job ", fence.job, " (fencing token ", token,
        "): ", r.rows() == 0 ? "its checkpoint row is gone" : StrCat("token ", r.Get(0, 0), " is newer"),
        "; the batch was not written to ", table_));
  }

  // COPY into a temporary table of the sink's columns (this session's, made
  // by Send before its transaction, emptied at commit), then one INSERT …
  // SELECT with the same ON CONFLICT.
  absl::Status CopyRows(pg::Connection& c, const Rows& rows) {
    thread_local std::string text;
    CopyText(columns_.size(), rows, &text);
    RECOVERY_RETURN_IF_ERROR(c.CopyIn(stage_copy_, text));
    return c.Run(stage_insert_);
  }

  absl::Status Send(pg::Connection& c, const Rows& rows, std::vector<SinkRejection>* rejected,
                    const WriteFence* fence) {
    const size_t n = rows.index.size();
    const bool copy = options_.copy_min_rows > 0 && n >= static_cast<size_t>(options_.copy_min_rows);
    // The staging table, once per connection: made outside the batch's
    // transaction, so that no rollback undoes it.
    if (copy) RECOVERY_RETURN_IF_ERROR(c.RunOncePerSession(stage_create_));
    absl::Status s = c.Run("BEGIN");
    if (s.ok() && fence != nullptr) s = CheckFence(c, *fence);
    if (s.ok() && copy) s = CopyRows(c, rows);
    for (size_t first = 0; s.ok() && !copy && first < n; first += ChunkRows()) {
      s = Insert(c, rows, first, std::min(ChunkRows(), n - first));
    }
    if (s.ok()) s = c.Run("COMMIT");
    if (s.ok()) return s;
    (void)c.Run("ROLLBACK");
    if (!pg::IsRowError(s)) return s;
    return SendIsolating(c, rows, rejected, fence);
  }

  // Sends the batch again with every chunk under a savepoint, splitting
  // refused chunks in half until each bad row is alone.
  absl::Status SendIsolating(pg::Connection& c, const Rows& rows, std::vector<SinkRejection>* rejected,
                             const WriteFence* fence) {
    const size_t before = rejected->size();
    RECOVERY_RETURN_IF_ERROR(c.Run("BEGIN"));
    if (fence != nullptr) {
      if (absl::Status s = CheckFence(c, *fence); !s.ok()) {
        (void)c.Run("ROLLBACK");
        return s;
      }
    }
    std::vector<std::pair<size_t, size_t>> todo;  // (first, count), processed from the back
    for (size_t first = 0; first < rows.index.size(); first += ChunkRows()) {
      todo.emplace_back(first, std::min(ChunkRows(), rows.index.size() - first));
    }
    std::reverse(todo.begin(), todo.end());
    absl::Status s;
    while (!todo.empty() && s.ok()) {
      auto [first, count] = todo.back();
      todo.pop_back();
      s = c.Run("SAVEPOINT recovery_chunk");
      if (!s.ok()) break;
      absl::Status st = Insert(c, rows, first, count);
      if (st.ok()) {
        s = c.Run("RELEASE SAVEPOINT recovery_chunk");
        continue;
      }
      if (!pg::IsRowError(st)) {
        s = st;
        break;
      }
      s = c.Run("ROLLBACK TO SAVEPOINT recovery_chunk");
      if (count == 1) {
        rejected->push_back({rows.index[first], std::string(st.message())});
      } else {
        todo.emplace_back(first + count / 2, count - count / 2);
        todo.emplace_back(first, count / 2);
      }
    }
    if (s.ok()) s = c.Run("COMMIT");
    if (!s.ok()) {
      (void)c.Run("ROLLBACK");
      rejected->resize(before);
      return s;
    }
    return absl::OkStatus();
  }

  PostgresSinkOptions options_;
  pg::Pool pool_;
  std::vector<Column> columns_;
  std::string table_;  // canonical, quoted as needed, from Open()
  std::string insert_prefix_, insert_suffix_;
  std::string stage_create_, stage_copy_, stage_insert_;  // the COPY path
};

}  // namespace

absl::StatusOr<std::unique_ptr<Sink>> NewPostgresSink(PostgresSinkOptions options) {
  std::vector<std::string> errors;
  if (options.dsn.empty()) errors.push_back("dsn: required but missing");
  if (options.table.empty()) errors.push_back("table: required but missing");
  if (options.columns.empty()) errors.push_back("columns: at least one column is required");
  for (const PostgresColumn& c : options.columns) {
    if (c.from.empty() || (c.from[0] != '/' && pg_rows::FromOf(c.from) == From::kPointer)) {
      errors.push_back(StrCat("columns.", c.name, ": expected a JSON pointer such as \"/amount\", or ",
                              pg_rows::SpecialFromNames(), ", got \"", c.from, "\""));
    }
    const From kind = pg_rows::FromOf(c.from);
    if ((kind == From::kRunId || kind == From::kRecoveredAt) &&
        std::find(options.conflict_columns.begin(), options.conflict_columns.end(), c.name) !=
            options.conflict_columns.end()) {
      errors.push_back(StrCat("conflict_columns: \"", c.name, "\" is filled from ", c.from,
                              ", which differs in every run: a resumed run would add its rows again"));
    }
  }
  if (options.on_conflict == PostgresConflict::kNewer) {
    if (options.version_column.empty()) {
      errors.push_back("version: on_conflict \"newer\" needs the column that holds each row's version");
    } else if (std::none_of(options.columns.begin(), options.columns.end(),
                            [&](const PostgresColumn& c) { return c.name == options.version_column; })) {
      errors.push_back(StrCat("version: \"", options.version_column, "\" is not one of the sink's columns"));
    } else if (std::find(options.conflict_columns.begin(), options.conflict_columns.end(),
                         options.version_column) != options.conflict_columns.end() ||
               (options.conflict_columns.empty() &&
                std::any_of(options.columns.begin(), options.columns.end(), [&](const PostgresColumn& c) {
                  return c.name == options.version_column && c.from == "$key";
                }))) {
      errors.push_back(StrCat("version: \"", options.version_column,
                              "\" is a conflict column; a version "
                              "must be a column of its own"));
    }
  } else if (!options.version_column.empty()) {
    errors.push_back("version: only used with on_conflict \"newer\"");
  }
  if (options.rows_per_statement < 1 || options.rows_per_statement > 10000) {
    errors.push_back(StrCat("rows_per_statement: expected 1 to 10000, got ", options.rows_per_statement));
  }
  if (!errors.empty()) return absl::InvalidArgumentError(ToAbsl(StrCat("sink: ", Join(errors, "; "))));
  auto sink = std::make_unique<PostgresSink>(std::move(options));
  return std::unique_ptr<Sink>(std::move(sink));
}

}  // namespace recovery
