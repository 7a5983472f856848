// A thin layer over libpq for the PostgreSQL checkpoint store and sink:
// connections with keepalives and a statement timeout, a small pool,
// parameterized queries, and server errors mapped to the library's status
// codes (see recovery/status.h) with the SQLSTATE attached.
#ifndef RECOVERY_POSTGRES_PG_H_
#define RECOVERY_POSTGRES_PG_H_

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"

struct pg_conn;
struct pg_result;

namespace recovery {
namespace pg {

struct ResultDeleter {
  void operator()(pg_result* r) const;
};
// A query's rows. Text format: Get() returns the value as sent by the server.
class Result {
 public:
  explicit Result(pg_result* r) : r_(r) {}
  int rows() const;
  bool IsNull(int row, int column) const;
  std::string_view Get(int row, int column) const;

 private:
  std::unique_ptr<pg_result, ResultDeleter> r_;
};

// A query parameter in text form; nullopt is SQL NULL.
using Param = std::optional<std::string_view>;

struct ConnectOptions {
  std::string dsn;  // libpq connection string or URI
  absl::Duration connect_timeout = absl::Seconds(10);
  absl::Duration statement_timeout = absl::Minutes(1);
};

// One connection; not thread-safe (the pool hands each to one user at a time).
class Connection {
 public:
  // Unavailable when the server cannot be reached (retryable), PermissionDenied
  // when it refuses the credentials, InvalidArgument for a malformed DSN or a
  // database or role that does not exist. Messages name the server
  // (Describe(dsn)), never the password.
  static absl::StatusOr<std::unique_ptr<Connection>> Open(const ConnectOptions& options);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Runs one statement with text parameters.
  absl::StatusOr<Result> Exec(std::string_view sql, absl::Span<const Param> params = {});
  // Runs one statement, or several separated by ';', without parameters.
  absl::Status Run(std::string_view sql);
  // Runs `sql` as Run() the first time this connection is asked for it, and
  // then never again: what lasts for the session, such as creating a
  // temporary table. Call it outside a transaction, so that a rollback
  // cannot undo what it is then known to have done.
  absl::Status RunOncePerSession(std::string_view sql);
  // Runs `copy_sql` (COPY … FROM STDIN) and sends it `data` in COPY's text
  // format. Errors as Exec()'s, from the server's answer to the whole COPY.
  absl::Status CopyIn(std::string_view copy_sql, std::string_view data);
  // False once the connection broke; the pool then drops it.
  bool healthy() const;

 private:
  explicit Connection(pg_conn* conn) : conn_(conn) {}
  absl::Status ErrorFrom(pg_result* r) const;
  pg_conn* conn_;
  std::vector<std::string> ran_once_;  // RunOncePerSession's statements; a handful at most
};

// Connections opened on demand and reused; at most `max_idle` are kept.
class Pool {
 public:
  explicit Pool(ConnectOptions options, size_t max_idle = 8)
      : options_(std::move(options)), max_idle_(max_idle) {}

  class Handle {
   public:
    Handle(Pool* pool, std::unique_ptr<Connection> c) : pool_(pool), c_(std::move(c)) {}
    Handle(Handle&&) noexcept = default;
    Handle& operator=(Handle&&) noexcept = default;
    ~Handle() {
      if (c_ != nullptr) pool_->Return(std::move(c_));
    }
    Connection* operator->() const { return c_.get(); }
    Connection& operator*() const { return *c_; }

   private:
    Pool* pool_;
    std::unique_ptr<Connection> c_;
  };

  absl::StatusOr<Handle> Acquire();
  const ConnectOptions& options() const { return options_; }

 private:
  void Return(std::unique_ptr<Connection> c);

  const ConnectOptions options_;
  const size_t max_idle_;
  absl::Mutex mu_;
  std::vector<std::unique_ptr<Connection>> idle_ ABSL_GUARDED_BY(mu_);
};

// The SQLSTATE a server error carried ("23505"), or "" when none.
std::string SqlState(const absl::Status& status);
// True for errors about one row's values (classes 22 and 23: bad input
// syntax, out of range, not null, unique, check, foreign key): the row can
// never go in, but the rest of its batch can.
bool IsRowError(const absl::Status& status);
// "postgres 127.0.0.1:5432/db as user": the server a DSN names, for messages;
// never the password.
std::string Describe(std::string_view dsn);
// "name" -> "\"name\"", doubling embedded quotes.
std::string QuoteIdent(std::string_view name);
// "schema.table" or "table" -> quoted parts joined by '.'.
std::string QuoteQualified(std::string_view name);

}  // namespace pg
}  // namespace recovery

#endif  // RECOVERY_POSTGRES_PG_H_
