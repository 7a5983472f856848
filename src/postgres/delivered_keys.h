// The PostgreSQL checkpoint store's delivered-keys logs
// (CheckpointStore::delivered_keys), in <schema>.recovery_delivered_keys
// (postgres/schema.h): each Append is one row holding its hashes and the
// entry it starts at.
//
// An Append at entry `at` upserts the row at `at`, cuts the row it falls
// within and drops the rows after it, and Load walks the rows from entry 0,
// each starting where the one before ended, so what a crashed run left
// beyond the chain is never read. Every row carries the
// fencing token of the lease that wrote it, and a row is only replaced or
// dropped by a lease as new or newer: a worker that stalled past its lease
// cannot overwrite the log of the worker that took the shard over (its
// Append is LeaseLostError), and the rows it can still add lie off that
// worker's chain.
#ifndef RECOVERY_POSTGRES_DELIVERED_KEYS_H_
#define RECOVERY_POSTGRES_DELIVERED_KEYS_H_

#include <memory>
#include <string_view>

#include "absl/status/status.h"
#include "postgres/pg.h"
#include "postgres/store_core.h"
#include "recovery/checkpoint_store.h"

namespace recovery {

std::unique_ptr<DeliveredKeys> NewPostgresDeliveredKeys(std::shared_ptr<StoreCore> core);

// Removes the log of `shard` of `job` (CheckpointStore::Delete).
absl::Status DeletePostgresDeliveredKeys(pg::Connection& c, const StoreCore& core, std::string_view job,
                                         std::string_view shard);

}  // namespace recovery

#endif  // RECOVERY_POSTGRES_DELIVERED_KEYS_H_
