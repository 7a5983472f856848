// How the HTTP source reads an answer before its records: its status (retry,
// pause, fail, or "the cursor expired") and, for GraphQL, the errors a 200
// answer carries. Free of reader state, so the prefetch thread may use them.
#ifndef RECOVERY_HTTP_HTTP_ANSWER_H_
#define RECOVERY_HTTP_HTTP_ANSWER_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "http/adaptive_limiter.h"
#include "http/http_client.h"
#include "http/http_config.h"
#include "http/paginator.h"
#include "util/redact.h"

namespace recovery {

// The first bytes of the answer's body, secrets hidden, as a JSON string.
std::string AnswerExcerpt(const HttpResponse& response, const Redactor& redactor);

// The answer's HTTP status as an error (OK for 2xx), to `request` for the
// position `asked`: retried with the wait the server asks for (Retry-After,
// the reset header), paused when a 429's wait is over rate_limit.max_wait,
// CursorExpiredError when source.pagination.expired matches, else failed
// with a code for the status.
absl::Status ClassifyAnswer(const HttpConfig& config, const HttpRequest& request,
                            const HttpResponse& response, const PagePosition& asked,
                            const Redactor& redactor);

// What an answer tells adaptive concurrency: its status (0 when
// `transport` failed), its latency, the quota headers (RateLimit-Remaining
// and -Reset, else X-RateLimit-*).
AdaptiveAnswer ReadAdaptiveAnswer(const absl::Status& transport, const HttpResponse& response,
                                  absl::Duration latency);

// GraphQL reports errors, throttling among them, in a 200 answer: "errors"
// not empty is a retryable error when an error's extensions.code or message
// says the client is throttled, else the page fails with the messages.
// `where` names the request.
absl::Status GraphqlErrors(std::string_view body, const std::string& where, const HttpResponse& response,
                           const Redactor& redactor);

}  // namespace recovery

#endif  // RECOVERY_HTTP_HTTP_ANSWER_H_
