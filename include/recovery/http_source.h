// The paginated HTTP API source: one request per page, in any of seven paging
// styles, with authentication, retries, a shared rate limit and TLS. The job
// spec's "source" section of type "http" fills these options field by field
// (docs/job-spec.md names each key).
#ifndef RECOVERY_HTTP_SOURCE_H_
#define RECOVERY_HTTP_SOURCE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "recovery/checkpoint_store.h"
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
  // GraphQL connections: the page's end cursor (`cursor_from`, e.g.
  // "/data/orders/pageInfo/endCursor") goes back as {cursor} while its
  // has-next flag (`has_next_from`) is true. A 200 answer whose "errors" is
  // not empty is an error: retried when it says the client is throttled,
  // failing the page with the messages otherwise.
  kGraphql,
};

// How times are written in requests ({start}, {end}) and read from records.
enum class HttpTimeFormat { kRfc3339, kEpochSeconds, kEpochMillis };

struct HttpPagination {
  HttpPaging type = HttpPaging::kPage;
  int64_t first_page = 1;  // kPage: the number of the first page, 0 or 1
  // kPage, kOffset: a page shorter than page_size ends the shard. Off by
  // default, since servers cap page sizes silently.
  bool short_page_ends = false;
  std::string cursor_from;    // kCursor, kNextUrl, kGraphql: JSON pointer to the next token or URL; required
  std::string has_next_from;  // kGraphql: JSON pointer to the has-next boolean; required
  std::string cursor_header;  // kCursorHeader: the header's name; required
  std::string keyset_time;    // kKeyset: JSON pointer to a record's time; required
  std::string keyset_id;      // kKeyset: JSON pointer to a record's unique id; required
  HttpTimeFormat keyset_time_format = HttpTimeFormat::kRfc3339;
  // Styles whose next position the server names (kCursor, kCursorHeader,
  // kNextUrl, kLink, kGraphql): the answers that mean "this cursor is no
  // longer valid" — one of these statuses to a request that carried a
  // cursor, and, when expired_body is set, a body containing it (ignoring
  // case). The shard then restarts from its beginning and skips what it
  // delivered before (Source::cursors_may_expire). Empty: a refused cursor
  // fails the shard like any other answer. Each 400 to 599, none of them
  // also in retry_statuses.
  std::vector<int> expired_statuses;
  std::string expired_body;
};

enum class HttpAuthType {
  kNone,
  kBearer,  // Authorization: Bearer <secret>
  kHeader,  // <name>: <secret>
  kBasic,   // Authorization: Basic base64(<username>:<secret>)
  kQuery,   // ?<name>=<secret> on every request
  kOAuth2,  // Authorization: Bearer <an access token from the token endpoint, renewed as it expires>
};

enum class HttpOAuth2Grant {
  kClientCredentials,  // the client's own id and secret
  kRefreshToken,       // a refresh token, kept in a file (a rotated one is written back)
};

// kOAuth2: where access tokens come from. One token serves every shard of
// the job; it is renewed refresh_margin before it expires (expires_in) and
// once more when the API refuses it (401), one renewal at a time. A refusal
// of the grant itself (invalid_grant, invalid_client, …) is asked again once
// with the secrets read anew, then fails the job naming the token URL and
// the error; a failure of the token endpoint (5xx, 429, no answer) is
// retried like a page.
struct HttpOAuth2 {
  std::string token_url;  // required, http:// or https://
  HttpOAuth2Grant grant = HttpOAuth2Grant::kClientCredentials;
  std::string client_id;             // required for client_credentials; sent with refresh_token when given
  SecretRef client_secret;           // required for client_credentials; optional with refresh_token
  bool client_secret_basic = false;  // send the id and secret as HTTP basic auth, not in the body
  std::string scope;                 // optional
  std::string audience;              // optional
  // kRefreshToken: the file holding the refresh token; required. A refresh
  // holds an exclusive lock on "<file>.lock", reads the file, and writes a
  // rotated token back atomically, so the processes of one job on a host
  // take turns and always spend the newest token.
  std::string refresh_token_file;
  absl::Duration refresh_margin = absl::Seconds(60);  // >= 0; at most half a token's life is used
  // kRefreshToken, optional: a lock that every host running the job shares,
  // taken after the file's lock around each refresh and its write-back, by a
  // name that stands for the token family (the token URL and client id);
  // for workers on several hosts spending one refresh token file on shared
  // storage, where file locks may not reach across hosts. A job whose
  // checkpoints are in PostgreSQL gets the database's advisory locks
  // (PostgresAdvisoryLocks). An error fails the refresh as the token
  // endpoint's failures do (Unavailable is retried).
  std::function<absl::StatusOr<std::unique_ptr<JobLock>>(std::string_view name)> hosts_lock;
};

struct HttpAuth {
  HttpAuthType type = HttpAuthType::kNone;
  std::string name;      // kHeader: the header; kQuery: the query parameter; required for both
  std::string username;  // kBasic; required
  SecretRef secret;      // the token, header value, password or query value; required unless kNone or kOAuth2
  HttpOAuth2 oauth2;     // kOAuth2
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
  std::string body;  // request body template; empty for none
  // The body is JSON (a GraphQL query and its variables): placeholders are
  // rendered as JSON inside its strings. A string that is one placeholder
  // alone becomes that value: a number for {limit}, {page}, {offset} (and
  // {start}, {end} in an epoch format), null for an empty value ({cursor}
  // before the first page), a string otherwise; within longer strings the
  // value is escaped.
  bool body_is_json = false;
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
  // Adaptive concurrency, shared by every shard of the job: at most this many
  // requests in flight, fewer while the API pushes back (429 and 503, a
  // latency well above its floor), and a request rate learned from 429s and
  // quota headers (RateLimit-*, X-RateLimit-*). 0 = off; else 1 to 1024. The
  // job spec sets it from concurrency: {"max": N}. rate_limit still applies.
  int adaptive_max_in_flight = 0;
};

// Checks every field (InvalidArgument listing each problem by field name)
// and resolves the auth secret (NotFound naming the variable or file). Makes
// no request: connections are opened per shard reader.
RECOVERY_EXPORT absl::StatusOr<std::unique_ptr<Source>> NewHttpSource(const HttpSourceOptions& options);

}  // namespace recovery

#endif  // RECOVERY_HTTP_SOURCE_H_
