#include "postgres/store_core.h"

#include <unistd.h>

#include <cstdio>
#include <vector>

#include "absl/random/random.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"

namespace recovery {

std::string DefaultLeaseOwner() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) std::snprintf(host, sizeof host, "unknown-host");
  absl::BitGen gen;
  return absl::StrFormat("%s:%d:%06x", host, ::getpid(), absl::Uniform<uint32_t>(gen, 0, 1u << 24));
}

std::string Millis(absl::Duration d) { return StrCat(absl::ToInt64Milliseconds(d)); }

absl::Time ParseMicros(std::string_view s) {
  int64_t us = 0;
  if (!absl::SimpleAtoi(ToAbsl(s), &us)) return absl::InfinitePast();
  return absl::FromUnixMicros(us);
}

void StoreCore::RenewLoop() {
  const absl::Duration period = options_.lease / 3;
  while (true) {
    std::vector<std::shared_ptr<LeaseState>> held;
    {
      absl::MutexLock lock(&mu_);
      mu_.AwaitWithTimeout(absl::Condition(&stopping_), period);
      if (stopping_) return;
      for (auto& [ptr, l] : leases_) {
        if (!l->lost) held.push_back(l);
      }
    }
    for (const std::shared_ptr<LeaseState>& l : held) Renew(*l);
  }
}

void StoreCore::Renew(LeaseState& l) {
  const absl::Time sent = absl::Now();
  absl::StatusOr<pg::Pool::Handle> c = pool_.Acquire();
  if (!c.ok()) return;  // the deadline stands; Check() fails once it passes
  const std::string token = StrCat(l.token);
  const std::string ms = Millis(options_.lease);
  absl::StatusOr<pg::Result> r =
      (*c)->Exec(StrCat("UPDATE ", tables_.checkpoints,
                        " SET lease_expires = now() + $4::bigint * interval '1 millisecond'"
                        " WHERE job = $1 AND shard = $2 AND fencing_token = $3 RETURNING 1"),
                 {l.job, l.shard, token, ms});
  if (!r.ok()) return;
  if (r->rows() == 0) {
    MarkLost(l);
  } else {
    Extend(l, sent + options_.lease);
  }
}

}  // namespace recovery
