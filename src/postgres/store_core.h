// What the PostgreSQL checkpoint store, its leases and the dead-letter store
// share: the options, the connection pool, the tables (created on first use),
// and the leases held, renewed by one background thread.
#ifndef RECOVERY_POSTGRES_STORE_CORE_H_
#define RECOVERY_POSTGRES_STORE_CORE_H_

#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "postgres/pg.h"
#include "postgres/schema.h"
#include "recovery/postgres.h"
#include "recovery/status.h"
#include "util/status_macros.h"
#include "util/strings.h"

namespace recovery {

// "host:pid:random", the owner a store claims leases as unless told.
std::string DefaultLeaseOwner();
// Whole milliseconds, as the SQL's intervals take them.
std::string Millis(absl::Duration d);
// Microseconds since the epoch as the queries return them; InfinitePast when unreadable.
absl::Time ParseMicros(std::string_view s);

// What the leases of one store share with the store and its renewal thread.
class StoreCore {
 public:
  explicit StoreCore(PostgresCheckpointOptions options)
      : options_(std::move(options)),
        tables_(options_.schema),
        pool_(pg::ConnectOptions{options_.dsn, options_.connect_timeout}) {}
  ~StoreCore() {
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
    }
    if (renewer_.joinable()) renewer_.join();
  }

  struct LeaseState {
    std::string job, shard;
    int64_t token = 0;
    bool lost = false;                           // guarded by StoreCore::mu_
    absl::Time deadline = absl::InfinitePast();  // guarded by StoreCore::mu_: held until then, by our clock
  };

  const PostgresCheckpointOptions& options() const { return options_; }
  const std::string& table() const { return tables_.checkpoints; }
  const std::string& dead_letters_table() const { return tables_.dead_letters; }
  const std::string& letter_marks_table() const { return tables_.letter_marks; }
  const std::string& delivered_keys_table() const { return tables_.delivered_keys; }
  std::string Describe() const { return pg::Describe(options_.dsn); }

  // A connection to a database whose schema is current.
  absl::StatusOr<pg::Pool::Handle> Connect() {
    RECOVERY_ASSIGN_OR_RETURN(pg::Pool::Handle c, pool_.Acquire());
    absl::MutexLock lock(&schema_mu_);
    if (!schema_ready_) {
      RECOVERY_RETURN_IF_ERROR(EnsurePostgresSchema(*c, tables_, Describe()));
      schema_ready_ = true;
    }
    return c;
  }

  void Register(const std::shared_ptr<LeaseState>& lease) {
    absl::MutexLock lock(&mu_);
    leases_[lease.get()] = lease;
    if (!renewer_.joinable()) renewer_ = std::thread([this] { RenewLoop(); });
  }
  void Unregister(LeaseState* lease) {
    absl::MutexLock lock(&mu_);
    leases_.erase(lease);
  }
  absl::Status Check(const LeaseState& l) {
    absl::MutexLock lock(&mu_);
    if (l.lost) return Lost(l, "another worker claimed it");
    if (absl::Now() > l.deadline) return Lost(l, "it could not be renewed before it expired");
    return absl::OkStatus();
  }
  // The fencing token of the lease this store holds on `shard` of `job`,
  // or 0 when it holds none.
  int64_t HeldToken(std::string_view job, std::string_view shard) {
    absl::MutexLock lock(&mu_);
    for (const auto& [ptr, l] : leases_) {
      if (l->job == job && l->shard == shard) return l->token;
    }
    return 0;
  }
  void MarkLost(LeaseState& l) {
    absl::MutexLock lock(&mu_);
    l.lost = true;
  }
  void Extend(LeaseState& l, absl::Time deadline) {
    absl::MutexLock lock(&mu_);
    if (deadline > l.deadline) l.deadline = deadline;
  }
  absl::Status Lost(const LeaseState& l, std::string_view why) const {
    return LeaseLostError(
        StrCat("lease lost: shard ", l.shard, " of job ", l.job, " (fencing token ", l.token, "): ", why));
  }

 private:
  // Renews every held lease each lease / 3, so one missed renewal (a
  // database hiccup) still leaves time for the next.
  void RenewLoop();
  void Renew(LeaseState& l);

  const PostgresCheckpointOptions options_;
  const PostgresTables tables_;
  pg::Pool pool_;

  absl::Mutex schema_mu_;
  bool schema_ready_ ABSL_GUARDED_BY(schema_mu_) = false;

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::unordered_map<LeaseState*, std::shared_ptr<LeaseState>> leases_ ABSL_GUARDED_BY(mu_);
  std::thread renewer_;
};

}  // namespace recovery

#endif  // RECOVERY_POSTGRES_STORE_CORE_H_
