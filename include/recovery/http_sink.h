// The HTTP sink: injects recovered records through an integration's own HTTP
// endpoint (a webhook receiver, an ingestion API), one record per request or
// in batches, with idempotency keys, routing by status, per-item results of a
// batch endpoint, and an optional presence check. The job spec's "sink"
// section of type "http" fills these options field by field
// (docs/job-spec.md names each key).
//
// The guarantee: at least once at the endpoint. Every request carries the
// keys of its records (one record: the Idempotency-Key header; a batch: each
// envelope's "key"), and the keys are stable across retries, crashes and
// resumes, so an endpoint that deduplicates on them processes each record
// once. A record sent again because it may have reached the endpoint before
// (a retried request, the batch in flight at a crash) carries the
// redelivery header and, in an envelope, "maybe_redelivered": true.
#ifndef RECOVERY_HTTP_SINK_H_
#define RECOVERY_HTTP_SINK_H_

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "recovery/export.h"
#include "recovery/http_source.h"
#include "recovery/sink.h"

namespace recovery {

// What a request's body holds.
enum class HttpSinkBody {
  // One record per request: the mapped record itself. A batch: a JSON array
  // of envelopes.
  kDefault,
  // {"key":…,"event_time":…,"maybe_redelivered":…,"data":record}; a batch
  // sends a JSON array of them.
  kEnvelope,
  // The mapped record; a batch sends a JSON array of records.
  kRecord,
  // `body_template`, a JSON text whose strings may be placeholders: one
  // record per request {record} (the mapped record, as JSON), {key},
  // {event_time}, {redelivered} (a boolean); a batch {records} (the array
  // of mapped records), {envelopes} (the array of envelopes), {keys}; both
  // {job}, {shard}, {run_id} and {recovered_at} (when the request is made):
  // provenance, so that the endpoint can tell recovered records from live ones. A string that is one
  // placeholder alone
  // becomes its value; within a longer string the value is escaped.
  kTemplate,
};

// Per-item results of a batch endpoint: a 2xx answer lists what became of
// each record, so that one bad record does not fail its batch.
struct HttpSinkResults {
  std::string from;  // JSON pointer to the answer's array of results; empty: the status says it all
  // The i-th result is the i-th record of the request; otherwise a result
  // names its record's key at `key_from`.
  bool by_position = false;
  std::string key_from = "/key";
  // A result's outcome: an HTTP-like status, a number or a numeric string
  // (2xx delivered, a `present`
  // status already present, a retried status sent again, anything else dead
  // lettered) or a boolean (true delivered, false dead lettered).
  std::string status_from = "/status";
  std::string error_from = "/error";  // why a record failed, kept with its dead letter; optional
};

// The presence check behind skip_already_present, against the endpoint's
// own API: either a lookup per record (`url` with {key}: a `present` status
// means held, an `absent` one not), or a batch lookup (`present_from` set:
// the keys are POSTed as {"keys":[…]} and the answer lists, at that JSON
// pointer, the keys held).
struct HttpSinkPresence {
  std::string method = "GET";  // GET or HEAD per record; POST for a batch lookup
  std::string url;             // empty: no presence check
  std::vector<int> present_statuses = {200};
  std::vector<int> absent_statuses = {404};
  std::string present_from;  // a batch lookup's array of keys held
};

struct HttpSinkOptions {
  std::string method = "POST";  // POST, PUT or PATCH
  // Required, http:// or https://. May hold {job} and {shard}, and with one
  // record per request {key} (URL-encoded).
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;  // sent as they are
  HttpSinkBody body = HttpSinkBody::kDefault;
  std::string body_template;  // kTemplate: required, valid JSON
  // Records per request: 1 sends one record per request; more groups a
  // page's records into batches of at most this many records and
  // `max_batch_bytes` of body (a record larger than that goes alone).
  int64_t max_batch_records = 1;      // 1 to 10,000
  int64_t max_batch_bytes = 1 << 20;  // 1 KiB to 256 MiB
  // One record per request: its key, in this header; empty: none.
  std::string idempotency_header = "Idempotency-Key";
  // "true" on a request that holds a record flagged as a possible
  // redelivery; empty: none.
  std::string redelivery_header = "X-Recovery-Redelivery";
  // Statuses meaning "I had it already": counted as already present.
  std::vector<int> present_statuses = {409};
  // Statuses sent again with backoff (honouring Retry-After), like timeouts
  // and dropped connections.
  std::vector<int> retry_statuses = {408, 425, 429, 500, 502, 503, 504};
  // Statuses meaning every record would fail (wrong credentials, wrong URL):
  // the job stops, paused, its checkpoints intact, instead of dead-lettering
  // the gap. A 401 is first met with a fresh OAuth2 token or command secret.
  std::vector<int> stop_statuses = {401, 403, 404};
  // Any other 4xx to a batch (413 among them) splits it in halves, and again,
  // until it fits or each refused record stands alone; a record refused alone
  // is dead lettered with the status and the start of the answer. A 5xx not
  // in retry_statuses fails the shard (resumable).
  HttpSinkResults results;
  HttpSinkPresence presence;
  HttpAuth auth;  // as the HTTP source's, OAuth2 and secrets from a command included
  absl::Duration timeout = absl::Seconds(30);          // a whole request, >= 1 ms
  absl::Duration connect_timeout = absl::Seconds(10);  // >= 1 ms
  int64_t max_response_bytes = 1 << 20;                // 1 KiB to 4 GiB
  int max_redirects = 0;                               // 0 to 50: a POST is rarely redirected on purpose
  bool verify_tls = true;
  std::string ca_file;  // PEM bundle; empty = the system's
  // Requests in flight at once, across every shard of the job: the
  // endpoint is someone else's production service. 1 to 256.
  int max_in_flight = 4;
  HttpRateLimit rate_limit;  // requests per second across the job, as the source's
};

// Checks every field (InvalidArgument listing each problem by field name)
// and resolves the auth secret (NotFound naming the variable or file).
// Makes no request.
RECOVERY_EXPORT absl::StatusOr<std::unique_ptr<Sink>> NewHttpSink(const HttpSinkOptions& options);

}  // namespace recovery

#endif  // RECOVERY_HTTP_SINK_H_
