// The probe's verdicts, from what it saw: pure functions of the pages and
// records it read (ProbeSeen), so each can be tested without a server.
#ifndef RECOVERY_ENGINE_PROBE_CHECKS_H_
#define RECOVERY_ENGINE_PROBE_CHECKS_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "recovery/probe.h"
#include "recovery/shard.h"
#include "recovery/source.h"

namespace recovery {

// One raw record as the probe saw it.
struct ProbedRecord {
  int page = 0;                                       // within its range, from 0
  RecordOutcome outcome = RecordOutcome::kDelivered;  // kDelivered: mapped, inside the range
  std::string key;                                    // when mapped
  absl::Time event_time = kUnknownEventTime;          // mapped, or read by Mapper::EventTimeOf
  std::optional<absl::Time> sort_time;                // PagingClaims::SortTimeOf
  std::string sort_id;                                // PagingClaims::SortIdOf
  std::string reason;                                 // why the mapping refused it
  std::string excerpt;                                // its first bytes, when refused
};

struct ProbedPage {
  int64_t records = 0;
  bool exhausted = false;
  int64_t reported_total = -1;
};

// A range the probe read: a sample shard, or a narrow sub-window of one.
struct ProbedRange {
  ProbeSample sample;
  Shard shard;
  int parent = -1;  // for a sub-window: the index of its sample in ProbeSeen::ranges
  std::vector<ProbedPage> pages;
  std::vector<ProbedRecord> records;
};

// A mapped record's fields: how often each was null or absent.
struct FieldNulls {
  uint64_t seen = 0;                           // records whose payload was a JSON object
  std::map<std::string, uint64_t> nulls;       // by field name
  std::map<std::string, std::string> example;  // a key whose field was null
};

struct ProbeSeen {
  bool has_claims = false;
  PagingFacts facts;
  bool partitions_by_shard = true;  // Source::partitions_by_shard
  std::vector<ProbedRange> ranges;
  FieldNulls fields;
};

// What the destination said, read by the probe.
struct DestinationSeen {
  std::string sink;            // the sink's type, or "given in code"
  std::string sinks_that_can;  // the built-in sinks that can check their shape, for the finding
  bool can_check_shape = false;
  absl::Status inspected;             // ShapeCheck::Inspect
  uint64_t checked = 0;               // records asked about
  std::vector<std::string> refusals;  // "key: reason", the first few
  uint64_t refused = 0;
  bool presence_wanted = false;  // skip_already_present
  bool can_check_presence = false;
  absl::Status presence;
  struct Share {
    std::string shard;
    uint64_t asked = 0, present = 0;
  };
  std::vector<Share> present;
};

ProbeCheck CheckAnswers(const ProbeSeen& seen);
ProbeCheck CheckWindowFilter(const ProbeSeen& seen);
ProbeCheck CheckOrder(const ProbeSeen& seen);
ProbeCheck CheckPageSize(const ProbeSeen& seen);
ProbeCheck CheckLastPage(const ProbeSeen& seen);
ProbeCheck CheckTotal(const ProbeSeen& seen);
ProbeCheck CheckKeys(const ProbeSeen& seen);
ProbeCheck CheckMapping(const ProbeSeen& seen);
ProbeCheck CheckDestination(const DestinationSeen& seen);
ProbeCheck CheckPresence(const DestinationSeen& seen);
// A queue, from what it says of itself: whether it still keeps the window
// (`start` on, at `now`), what it holds, its redrive policy.
ProbeCheck CheckQueue(const absl::StatusOr<QueueFacts>& facts, absl::Time start, absl::Time now);

// In-window mapped records of `r` whose event time is in [from, to).
uint64_t CountBetween(const ProbedRange& r, absl::Time from, absl::Time to);

}  // namespace recovery

#endif  // RECOVERY_ENGINE_PROBE_CHECKS_H_
