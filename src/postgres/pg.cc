#include "postgres/pg.h"

#include <libpq-fe.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "util/strings.h"

namespace recovery {
namespace pg {
namespace {

constexpr char kSqlStateUrl[] = "recovery/sqlstate";

std::string Trimmed(const char* s) {
  std::string out = s == nullptr ? "" : s;
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

absl::StatusCode CodeForSqlState(std::string_view state) {
  const std::string_view cls = state.substr(0, 2);
  // Connection trouble, shutdowns, serialization failures, deadlocks, lack of
  // resources, lock or statement timeouts: worth another attempt.
  if (cls == "08" || cls == "53" || cls == "57" || state == "40001" || state == "40P01" || state == "55P03") {
    return absl::StatusCode::kUnavailable;
  }
  if (cls == "28" || state == "42501") return absl::StatusCode::kPermissionDenied;
  if (cls == "22" || cls == "23" || cls == "42" || cls == "3D" || cls == "3F") {
    return absl::StatusCode::kInvalidArgument;
  }
  return absl::StatusCode::kInternal;
}

}  // namespace

void ResultDeleter::operator()(pg_result* r) const { PQclear(r); }

int Result::rows() const { return PQntuples(r_.get()); }
bool Result::IsNull(int row, int column) const { return PQgetisnull(r_.get(), row, column) != 0; }
std::string_view Result::Get(int row, int column) const {
  return {PQgetvalue(r_.get(), row, column), static_cast<size_t>(PQgetlength(r_.get(), row, column))};
}

std::string Describe(std::string_view dsn) {
  char* err = nullptr;
  PQconninfoOption* options = PQconninfoParse(std::string(dsn).c_str(), &err);
  if (options == nullptr) {
    PQfreemem(err);
    return "postgres (unparseable DSN)";
  }
  std::string host = "localhost", port = "5432", db, user;
  for (PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
    if (o->val == nullptr || *o->val == '\0') continue;
    if (std::strcmp(o->keyword, "host") == 0 || std::strcmp(o->keyword, "hostaddr") == 0) host = o->val;
    if (std::strcmp(o->keyword, "port") == 0) port = o->val;
    if (std::strcmp(o->keyword, "dbname") == 0) db = o->val;
    if (std::strcmp(o->keyword, "user") == 0) user = o->val;
  }
  PQconninfoFree(options);
  std::string out = StrCat("postgres ", host, ":", port, "/", db);
  if (!user.empty()) StrAppend(&out, " as ", user);
  return out;
}

std::string QuoteIdent(std::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    out += c;
    if (c == '"') out += '"';
  }
  out += '"';
  return out;
}

std::string QuoteQualified(std::string_view name) {
  const size_t dot = name.find('.');
  if (dot == std::string_view::npos) return QuoteIdent(name);
  return StrCat(QuoteIdent(name.substr(0, dot)), ".", QuoteIdent(name.substr(dot + 1)));
}

std::string SqlState(const absl::Status& status) {
  auto p = status.GetPayload(kSqlStateUrl);
  return p ? std::string(*p) : "";
}

bool IsRowError(const absl::Status& status) {
  const std::string state = SqlState(status);
  return state.rfind("22", 0) == 0 || state.rfind("23", 0) == 0;
}

absl::StatusOr<std::unique_ptr<Connection>> Connection::Open(const ConnectOptions& options) {
  const std::string timeout = StrCat(std::max<int64_t>(1, absl::ToInt64Seconds(options.connect_timeout)));
  // The DSN comes last so that what it sets wins over these defaults.
  const char* keys[] = {"connect_timeout",  "keepalives",
                        "keepalives_idle",  "keepalives_interval",
                        "keepalives_count", "fallback_application_name",
                        "dbname",           nullptr};
  const char* values[] = {timeout.c_str(), "1", "15", "5", "3", "recovery", options.dsn.c_str(), nullptr};
  PGconn* conn = PQconnectdbParams(keys, values, /*expand_dbname=*/1);
  if (conn == nullptr) return absl::ResourceExhaustedError("libpq could not allocate a connection");
  if (PQstatus(conn) != CONNECTION_OK) {
    const std::string why = Trimmed(PQerrorMessage(conn));
    const bool auth = PQconnectionNeedsPassword(conn) || absl::StrContains(why, "authentication failed") ||
                      absl::StrContains(why, "password");
    PQfinish(conn);
    const std::string message = StrCat(Describe(options.dsn), ": cannot connect: ", why);
    if (auth) return absl::PermissionDeniedError(message);
    if (absl::StrContains(why, "does not exist") || absl::StrContains(why, "invalid connection option") ||
        absl::StrContains(why, "missing \"=\"") || absl::StrContains(why, "invalid URI")) {
      return absl::InvalidArgumentError(message);
    }
    return absl::UnavailableError(message);
  }
  PQsetNoticeProcessor(
      conn, [](void*, const char*) {}, nullptr);  // a library does not print to stderr
  auto c = std::unique_ptr<Connection>(new Connection(conn));
  absl::Status s =
      c->Run(StrCat("SET statement_timeout = ", absl::ToInt64Milliseconds(options.statement_timeout)));
  if (!s.ok()) return s;
  return c;
}

Connection::~Connection() { PQfinish(conn_); }

bool Connection::healthy() const {
  return PQstatus(conn_) == CONNECTION_OK && PQtransactionStatus(conn_) == PQTRANS_IDLE;
}

absl::Status Connection::ErrorFrom(pg_result* r) const {
  const char* state = r == nullptr ? nullptr : PQresultErrorField(r, PG_DIAG_SQLSTATE);
  std::string message =
      Trimmed(r == nullptr ? PQerrorMessage(conn_) : PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY));
  if (message.empty()) message = Trimmed(PQerrorMessage(conn_));
  if (r != nullptr) {
    if (const char* detail = PQresultErrorField(r, PG_DIAG_MESSAGE_DETAIL)) {
      StrAppend(&message, " (", Trimmed(detail), ")");
    }
  }
  if (state == nullptr) {  // no server answer: the connection broke
    return absl::UnavailableError(StrCat("postgres: connection lost: ", message));
  }
  absl::Status s(CodeForSqlState(state), ToAbsl(StrCat("postgres: ", message, " [SQLSTATE ", state, "]")));
  s.SetPayload(kSqlStateUrl, absl::Cord(state));
  return s;
}

absl::StatusOr<Result> Connection::Exec(std::string_view sql, absl::Span<const Param> params) {
  // Text parameters must be NUL-terminated: copy them into one buffer.
  std::string buffer;
  size_t total = 0;
  for (const Param& p : params) total += p ? p->size() + 1 : 0;
  buffer.reserve(total);
  std::vector<size_t> offsets(params.size());
  for (size_t i = 0; i < params.size(); ++i) {
    if (!params[i]) continue;
    offsets[i] = buffer.size();
    buffer.append(*params[i]);
    buffer.push_back('\0');
  }
  std::vector<const char*> values(params.size());
  for (size_t i = 0; i < params.size(); ++i) values[i] = params[i] ? buffer.data() + offsets[i] : nullptr;
  pg_result* r = PQexecParams(conn_, std::string(sql).c_str(), static_cast<int>(params.size()), nullptr,
                              values.data(), nullptr, nullptr, 0);
  const ExecStatusType st = r == nullptr ? PGRES_FATAL_ERROR : PQresultStatus(r);
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return Result(r);
  absl::Status s = ErrorFrom(r);
  PQclear(r);
  return s;
}

absl::Status Connection::Run(std::string_view sql) {
  pg_result* r = PQexec(conn_, std::string(sql).c_str());
  const ExecStatusType st = r == nullptr ? PGRES_FATAL_ERROR : PQresultStatus(r);
  absl::Status s = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? absl::OkStatus() : ErrorFrom(r);
  PQclear(r);
  return s;
}

absl::Status Connection::RunOncePerSession(std::string_view sql) {
  if (std::find(ran_once_.begin(), ran_once_.end(), sql) != ran_once_.end()) return absl::OkStatus();
  if (absl::Status s = Run(sql); !s.ok()) return s;
  ran_once_.emplace_back(sql);
  return absl::OkStatus();
}

absl::Status Connection::CopyIn(std::string_view copy_sql, std::string_view data) {
  pg_result* r = PQexec(conn_, std::string(copy_sql).c_str());
  if (r == nullptr || PQresultStatus(r) != PGRES_COPY_IN) {
    absl::Status s = ErrorFrom(r);
    PQclear(r);
    return s;
  }
  PQclear(r);
  constexpr size_t kChunk = 1 << 20;  // PQputCopyData takes an int length
  int sent = 1;
  for (size_t at = 0; sent == 1 && at < data.size(); at += kChunk) {
    const size_t n = std::min(kChunk, data.size() - at);
    sent = PQputCopyData(conn_, data.data() + at, static_cast<int>(n));
  }
  if (sent == 1) sent = PQputCopyEnd(conn_, nullptr);
  absl::Status s;
  if (sent != 1)
    s = absl::UnavailableError(StrCat("postgres: connection lost: ", Trimmed(PQerrorMessage(conn_))));
  // The COPY's own answer, then nothing: read both, so the connection is ready again.
  while ((r = PQgetResult(conn_)) != nullptr) {
    if (s.ok() && PQresultStatus(r) != PGRES_COMMAND_OK) s = ErrorFrom(r);
    PQclear(r);
  }
  return s;
}

absl::StatusOr<Pool::Handle> Pool::Acquire() {
  {
    absl::MutexLock lock(&mu_);
    if (!idle_.empty()) {
      std::unique_ptr<Connection> c = std::move(idle_.back());
      idle_.pop_back();
      return Handle(this, std::move(c));
    }
  }
  absl::StatusOr<std::unique_ptr<Connection>> c = Connection::Open(options_);
  if (!c.ok()) return c.status();
  return Handle(this, *std::move(c));
}

void Pool::Return(std::unique_ptr<Connection> c) {
  if (!c->healthy()) return;  // broken, or left inside a transaction: never reuse
  absl::MutexLock lock(&mu_);
  if (idle_.size() < max_idle_) idle_.push_back(std::move(c));
}

}  // namespace pg
}  // namespace recovery
