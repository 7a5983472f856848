#include "recovery/shard.h"

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "util/strings.h"
#include "util/time_format.h"

namespace recovery {

absl::StatusOr<std::vector<Shard>> PlanShards(absl::Time start, absl::Time end, absl::Duration shard_duration,
                                              bool follow) {
  if (end < start || (end == start && !follow)) {
    return absl::InvalidArgumentError(
        StrCat("window: end ", FormatRfc3339(end), " is not after start ", FormatRfc3339(start)));
  }
  if (shard_duration <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("shard_duration: must be positive");
  }
  constexpr int64_t kMaxShards = 1000000;
  absl::Duration remainder;  // IDivDuration writes it unconditionally
  if (shard_duration != absl::InfiniteDuration() &&
      absl::IDivDuration(end - start, shard_duration, &remainder) >= kMaxShards) {
    return absl::InvalidArgumentError(StrCat("shard_duration: ", absl::FormatDuration(shard_duration),
                                             " splits the window into more than ", kMaxShards,
                                             " shards; use longer shards"));
  }
  std::vector<Shard> shards;
  absl::Time s = start;
  while (s < end) {
    absl::Time e =
        shard_duration == absl::InfiniteDuration() || end - s <= shard_duration ? end : s + shard_duration;
    Shard shard;
    shard.index = static_cast<int>(shards.size());
    shard.start = s;
    shard.end = e;
    shard.id = StrCat(FormatCompactUtc(s), "-", FormatCompactUtc(e));
    shards.push_back(std::move(shard));
    s = e;
  }
  if (follow) {
    Shard open;
    open.index = static_cast<int>(shards.size());
    open.start = end;
    open.end = absl::InfiniteFuture();
    open.id = StrCat(FormatCompactUtc(end), "-open");
    shards.push_back(std::move(open));
  }
  return shards;
}

bool IsReplayShardId(std::string_view id) {
  constexpr std::string_view kPrefix = "replay-";
  int n = 0;
  return absl::StartsWith(ToAbsl(id), ToAbsl(kPrefix)) &&
         absl::SimpleAtoi(ToAbsl(id.substr(kPrefix.size())), &n) && n >= 1;
}

}  // namespace recovery
