// What include/recovery/checkpoint.h declares beside the checkpoint itself.
#include "recovery/checkpoint.h"

#include "util/hash.h"

namespace recovery {

ShardCounters& ShardCounters::operator+=(const ShardCounters& o) {
  records_fetched += o.records_fetched;
  records_delivered += o.records_delivered;
  records_dropped += o.records_dropped;
  records_out_of_window += o.records_out_of_window;
  records_already_present += o.records_already_present;
  records_of_other_shards += o.records_of_other_shards;
  dead_letters += o.dead_letters;
  pages += o.pages;
  bytes += o.bytes;
  retries += o.retries;
  return *this;
}

ShardCounters& ShardCounters::operator-=(const ShardCounters& o) {
  records_fetched -= o.records_fetched;
  records_delivered -= o.records_delivered;
  records_dropped -= o.records_dropped;
  records_out_of_window -= o.records_out_of_window;
  records_already_present -= o.records_already_present;
  records_of_other_shards -= o.records_of_other_shards;
  dead_letters -= o.dead_letters;
  pages -= o.pages;
  bytes -= o.bytes;
  retries -= o.retries;
  return *this;
}

uint64_t StableKeyHash(std::string_view key) { return StableHash64(key, /*seed=*/0x6b6579); }

std::string_view ShardStateName(ShardState state) {
  switch (state) {
    case ShardState::kPending:
      return "pending";
    case ShardState::kRunning:
      return "running";
    case ShardState::kDone:
      return "done";
    case ShardState::kFailed:
      return "failed";
  }
  return "unknown";
}

}  // namespace recovery
