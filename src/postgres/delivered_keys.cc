#include "postgres/delivered_keys.h"

#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "util/status_macros.h"
#include "util/strings.h"

namespace recovery {
namespace {

// Little-endian, as the file store writes them, in hex for decode(…, 'hex').
std::string HexOf(absl::Span<const uint64_t> hashes) {
  std::string bytes(hashes.size() * 8, '\0');
  for (size_t i = 0; i < hashes.size(); ++i) {
    for (int b = 0; b < 8; ++b) bytes[i * 8 + b] = static_cast<char>((hashes[i] >> (8 * b)) & 0xff);
  }
  return absl::BytesToHexString(bytes);
}

class PostgresDeliveredKeys : public DeliveredKeys {
 public:
  explicit PostgresDeliveredKeys(std::shared_ptr<StoreCore> core) : core_(std::move(core)) {}

  absl::Status Append(std::string_view job, std::string_view shard_id, uint64_t at,
                      absl::Span<const uint64_t> hashes) override {
    const int64_t token = core_->HeldToken(job, shard_id);
    const std::string& t = core_->delivered_keys_table();
    RECOVERY_ASSIGN_OR_RETURN(pg::Pool::Handle c, core_->Connect());
    RECOVERY_ASSIGN_OR_RETURN(
        pg::Result r,
        c->Exec(
            StrCat("WITH dropped AS (DELETE FROM ", t,
                   " WHERE job = $1 AND shard = $2 AND at > $3 AND fencing_token <= $4),"
                   " cut AS (UPDATE ",
                   t, " SET hashes = substring(hashes FROM 1 FOR (($3 - at) * 8)::int)",
                   " WHERE job = $1 AND shard = $2 AND at < $3 AND at + length(hashes) / 8 > $3",
                   " AND fencing_token <= $4) INSERT INTO ", t,
                   " AS k (job, shard, at, fencing_token, hashes) VALUES ($1, $2, $3, $4, decode($5, 'hex'))"
                   " ON CONFLICT (job, shard, at) DO UPDATE SET fencing_token = EXCLUDED.fencing_token,"
                   " hashes = EXCLUDED.hashes WHERE k.fencing_token <= EXCLUDED.fencing_token RETURNING 1"),
            {job, shard_id, StrCat(at), StrCat(token), HexOf(hashes)}));
    if (r.rows() == 0) {
      return LeaseLostError(StrCat("lease lost: shard ", shard_id, " of job ", job, " (fencing token ", token,
                                   "): a newer lease wrote entry ", at, " of its delivered keys in ",
                                   core_->Describe(), " ", t));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<uint64_t>> Load(std::string_view job, std::string_view shard_id,
                                             uint64_t count) override {
    std::vector<uint64_t> out;
    if (count == 0) return out;
    const std::string& t = core_->delivered_keys_table();
    RECOVERY_ASSIGN_OR_RETURN(pg::Pool::Handle c, core_->Connect());
    RECOVERY_ASSIGN_OR_RETURN(pg::Result r, c->Exec(StrCat("SELECT at, encode(hashes, 'hex') FROM ", t,
                                                           " WHERE job = $1 AND shard = $2 AND at < $3"
                                                           " ORDER BY at"),
                                                    {job, shard_id, StrCat(count)}));
    const auto lost = [&](std::string_view what) {
      return absl::DataLossError(StrCat(core_->Describe(), " ", t, " (", job, ", ", shard_id, "): ", what,
                                        "; the checkpoint vouches for ", count, " delivered keys"));
    };
    out.reserve(count);
    for (int row = 0; row < r.rows() && out.size() < count; ++row) {
      uint64_t at = 0;
      if (!absl::SimpleAtoi(ToAbsl(r.Get(row, 0)), &at)) return lost("a row's entry is not a number");
      if (at < out.size()) continue;  // off the chain: left by a crashed run
      if (at > out.size()) return lost(StrCat("no row starts at entry ", out.size()));
      const std::string bytes = absl::HexStringToBytes(ToAbsl(r.Get(row, 1)));
      if (bytes.size() % 8 != 0) return lost(StrCat("the row at entry ", at, " is not whole hashes"));
      for (size_t i = 0; i < bytes.size() && out.size() < count; i += 8) {
        uint64_t h = 0;
        for (int b = 0; b < 8; ++b)
          h |= static_cast<uint64_t>(static_cast<unsigned char>(bytes[i + b])) << (8 * b);
        out.push_back(h);
      }
    }
    if (out.size() < count) return lost(StrCat("the rows hold ", out.size(), " entries"));
    return out;
  }

 private:
  std::shared_ptr<StoreCore> core_;
};

}  // namespace

std::unique_ptr<DeliveredKeys> NewPostgresDeliveredKeys(std::shared_ptr<StoreCore> core) {
  return std::make_unique<PostgresDeliveredKeys>(std::move(core));
}

absl::Status DeletePostgresDeliveredKeys(pg::Connection& c, const StoreCore& core, std::string_view job,
                                         std::string_view shard) {
  return c
      .Exec(StrCat("DELETE FROM ", core.delivered_keys_table(), " WHERE job = $1 AND shard = $2"),
            {job, shard})
      .status();
}

}  // namespace recovery
