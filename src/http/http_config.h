// The HTTP source's options checked and resolved, as its readers use them.
#ifndef RECOVERY_HTTP_HTTP_CONFIG_H_
#define RECOVERY_HTTP_HTTP_CONFIG_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "http/http_auth.h"
#include "http/http_client.h"
#include "recovery/http_source.h"
#include "util/field_errors.h"
#include "util/redact.h"

namespace recovery {

// The options as the readers use them: the auth secret resolved, every secret
// known to the redactor.
struct HttpConfig {
  std::string method;
  std::string url;
  std::vector<std::pair<std::string, std::string>> query;  // templates
  std::vector<HttpHeader> headers;                         // values are templates
  std::string body;
  bool body_is_json = false;  // placeholders rendered as JSON values (RenderJsonTemplate)
  HttpTimeFormat time_format = HttpTimeFormat::kRfc3339;
  std::string records_pointer;
  int64_t page_size = 100;
  HttpPagination pagination;
  std::string sorted_pointer;  // records ascending by this time: stop past the shard's end
  HttpTimeFormat sorted_format = HttpTimeFormat::kRfc3339;
  std::string total_header, total_pointer;
  std::set<long> retry_statuses;
  HttpClientOptions client;
  double rate = 0;  // requests per second, 0 = unlimited
  double burst = 1;
  absl::Duration max_wait;
  std::string reset_header;
  int adaptive_max_in_flight = 0;  // 0: off
  // The auth secret, put on each request by a RequestAuthorizer.
  HttpCredentials credentials;
  Redactor redactor;
  std::vector<std::string> warnings;
};

// The config for `options` (checked already), with the auth secret resolved;
// nullopt with the problem added under `path` when the secret is missing.
std::optional<HttpConfig> ResolveHttpConfig(const HttpSourceOptions& options, std::string_view path,
                                            FieldErrors* errors);

}  // namespace recovery

#endif  // RECOVERY_HTTP_HTTP_CONFIG_H_
