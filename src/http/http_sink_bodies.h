// What the HTTP sink sends and how it reads a batch endpoint's per-item
// results: pure functions of the records and the answer, so that they can
// be tested and fuzzed without a server.
#ifndef RECOVERY_HTTP_HTTP_SINK_BODIES_H_
#define RECOVERY_HTTP_HTTP_SINK_BODIES_H_

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "recovery/http_sink.h"
#include "recovery/record.h"

namespace recovery {

// What became of one record of a Write().
enum class SinkFate : uint8_t { kPending, kDelivered, kPresent, kRejected, kRetry };

// The statuses with a meaning of their own (HttpSinkOptions).
struct SinkStatuses {
  std::set<long> present, retry, stop;
};

// Where the records of one request come from.
struct SinkBodyContext {
  std::string_view job, shard, run_id;
};

// {"key":…,"event_time":…,"maybe_redelivered":…,"data":record} appended to `out`.
void AppendEnvelope(const Record& record, std::string* out);

// The body of a request for the records `indexes` of `records`. `body` is
// resolved (not kDefault); `batched` when the endpoint takes batches.
std::string SinkRequestBody(HttpSinkBody body, const std::string& body_template, bool batched,
                            absl::Span<const Record> records, absl::Span<const size_t> indexes,
                            const SinkBodyContext& context);

// Reads the per-item results of a 2xx answer to the request of `indexes`:
// each record's fate (and why, for those refused) into `fates` and
// `reasons` (indexed like `records`). A record no result names is kRetry.
// kUnavailable when the answer holds no array at results.from (it may have
// been cut short: the records are sent again).
absl::Status ReadItemResults(std::string_view body, const HttpSinkResults& results,
                             const SinkStatuses& statuses, absl::Span<const Record> records,
                             absl::Span<const size_t> indexes, std::vector<SinkFate>* fates,
                             std::vector<std::string>* reasons);

}  // namespace recovery

#endif  // RECOVERY_HTTP_HTTP_SINK_BODIES_H_
