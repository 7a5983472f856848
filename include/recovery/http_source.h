// The paginated HTTP API source: one request per page, in any of seven paging
// styles, with authentication, retries, a shared rate limit and TLS. The job
// spec's "source" section of type "http" fills these options field by field
// (docs/job-spec.md names each key).
#ifndef RECOVERY_HTTP_SOURCE_H_
#define RECOVERY_HTTP_SOURCE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "recovery/export.h"
#include "recovery/secret.h"
#include "recovery/source.h"

namespace recovery {

// How the API says where the next page starts.
enum class HttpPaging {
  kPage,          // {page} counts up from `first_page`
  kOffset,        // {offset} counts records
  kCursor,        // a token in the body (`cursor_from`) goes back as {cursor}
  kCursorHeader,  // a token in a response header (`cursor_header`) goes back as {cursor}
  kLink,          // the rel="next" URL of an RFC 8288 Link header
  kNextUrl,       // a URL in the body (`cursor_from`)
  kKeyset,        // {after_time} and {after_id} of the last record (`keyset_time`, `keyset_id`)
};

// How times are written in requests ({start}, {end}) and read from records.
enum class HttpTimeFormat { kRfc3339, kEpochSeconds, kEpochMillis };

struct HttpPagination {
  HttpPaging type = HttpPaging::kPage;
  int64_t first_page = 1;  // kPage: the number of the first page, 0 or 1
  // kPage, kOffset: a page shorter than page_size ends the shard. Off by
  // default, since servers cap page sizes silently.
  bool short_page_ends = false;
  std::string cursor_from;    // kCursor, kNextUrl: JSON pointer to the next token or URL; required
  std::string cursor_header;  // kCursorHeader: the header's name; required
  std::string keyset_time;    // kKeyset: JSON pointer to a record's time; required
  std::string keyset_id;      // kKeyset: JSON pointer to a record's unique id; required
  HttpTimeFormat keyset_time_format = HttpTimeFormat::kRfc3339;
};

enum class HttpAuthType {
  kNone,
  kBearer,  // Authorization: Bearer <secret>
  kHeader,  // <name>: <secret>
  kBasic,   // Authorization: Basic base64(<username>:<secret>)
  kQuery,   // ?<name>=<secret> on every request
};

struct HttpAuth {
  HttpAuthType type = HttpAuthType::kNone;
  std::string name;      // kHeader: the header; kQuery: the query parameter; required for both
  std::string username;  // kBasic; required
  SecretRef secret;      // the token, header value, password or query value; required unless kNone
};

struct HttpRateLimit {
  double requests_per_second = 0;  // shared by every shard of the job; 0 = unlimited, else 0.001 to 1e6
  double burst = 0;                // requests allowed at once; 0 = max(1, requests_per_second), else 1 to 1e6
  // A wait longer than this (for the limiter, or for a 429's quota reset)
  // pauses the job instead: it stops cleanly and a later run resumes. >= 0.
  absl::Duration max_wait = absl::Minutes(5);
  // A response header giving when the quota resets (seconds, or epoch
  // seconds), honoured like Retry-After. Optional.
  std::string reset_header;
};

struct HttpSourceOptions {
  std::string method = "GET";  // GET, POST, PUT or PATCH
  // Required, http:// or https://. May hold placeholders: {start}, {end},
  // {cursor}, {page}, {offset}, {limit}, {after_time}, {after_id}.
  std::string url;
  // Query parameters and headers, in order; values may hold placeholders, and
  // a parameter whose value renders empty is left out.
  std::vector<std::pair<std::string, std::string>> query;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;                                       // request body template; empty for none
  HttpTimeFormat time_format = HttpTimeFormat::kRfc3339;  // of {start} and {end}
  std::string records;      // JSON pointer to the page's array of records; "" = the body is the array
  int64_t page_size = 100;  // {limit}, 1 to 100,000
  HttpPagination pagination;
  // JSON pointer to a time by which the API returns records in ascending
  // order, if it does: a record past the shard's end then ends the shard, and
  // progress is known. Optional; not with kKeyset (sorted by its own time).
  std::string sorted_by;
  HttpTimeFormat sorted_by_format = HttpTimeFormat::kRfc3339;
  // Where the API reports how many records the shard holds: a header, or a
  // JSON pointer into the body (at most one). A mismatch with what was fetched
  // is reported when the shard ends.
  std::string total_header;
  std::string total_from;
  HttpAuth auth;
  // Statuses retried with backoff (honouring Retry-After); the rest of 4xx and
  // 5xx fail the shard. Each 100 to 599.
  std::vector<int> retry_statuses = {408, 425, 429, 500, 502, 503, 504};
  absl::Duration timeout = absl::Seconds(60);          // a whole request, >= 1 ms
  absl::Duration connect_timeout = absl::Seconds(10);  // >= 1 ms
  int64_t max_response_bytes = 64 << 20;               // 1 KiB to 4 GiB
  int max_redirects = 5;                               // 0 to 50; credentials never follow to another origin
  bool verify_tls = true;                              // false is logged as a warning at every run
  std::string ca_file;                                 // PEM bundle; empty = the system's
  HttpRateLimit rate_limit;
};

// Checks every field (InvalidArgument listing each problem by field name)
// and resolves the auth secret (NotFound naming the variable or file). Makes
// no request: connections are opened per shard reader.
RECOVERY_EXPORT absl::StatusOr<std::unique_ptr<Source>> NewHttpSource(const HttpSourceOptions& options);

}  // namespace recovery

#endif  // RECOVERY_HTTP_SOURCE_H_
