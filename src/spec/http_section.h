// The job spec's sections of type "http": the source, read into
// HttpSourceOptions, and what the HTTP sink's section shares with it (auth,
// timeouts, TLS, the rate limit, lists of statuses).
#ifndef RECOVERY_SPEC_HTTP_SECTION_H_
#define RECOVERY_SPEC_HTTP_SECTION_H_

#include <optional>
#include <string_view>
#include <vector>

#include "http/http_source.h"
#include "json/spec_reader.h"
#include "recovery/job_spec.h"
#include "util/file.h"

namespace recovery {

// Reads and checks the section, adding every problem under its JSON path.
// Reads no environment: secrets are resolved by BuildHttpSource.
HttpSourceOptions ReadHttpSource(SpecObject& section, const JobSpec& spec);

// The "auth" object of an HTTP section.
void ReadHttpAuth(SpecObject& auth, const JobSpec& spec, HttpAuth* out);

// The array of HTTP statuses at `key`, or nullopt when absent.
std::optional<std::vector<int>> ReadHttpStatuses(SpecObject& o, std::string_view key);

// The connection keys both HTTP sections have, into any options with the
// HTTP source's names for them: timeout, connect_timeout,
// max_response_bytes, max_redirects, tls {verify, ca_file} and rate_limit.
template <typename Options>
void ReadHttpClient(SpecObject& o, const JobSpec& spec, Options* c) {
  if (auto t = o.Duration("timeout", false, absl::Milliseconds(1))) c->timeout = *t;
  if (auto t = o.Duration("connect_timeout", false, absl::Milliseconds(1))) c->connect_timeout = *t;
  c->max_response_bytes =
      o.Int("max_response_bytes", false, 1024, int64_t{1} << 32).value_or(c->max_response_bytes);
  c->max_redirects = static_cast<int>(o.Int("max_redirects", false, 0, 50).value_or(c->max_redirects));
  if (auto tls = o.Object("tls")) {
    c->verify_tls = tls->Bool("verify").value_or(true);
    c->ca_file = ResolvePath(spec.base_dir, tls->String("ca_file").value_or(""));
    tls->Finish();
  }
  if (auto rl = o.Object("rate_limit")) {
    c->rate_limit.requests_per_second = rl->Double("requests_per_second", false, 0.001, 1e6).value_or(0);
    c->rate_limit.burst = rl->Double("burst", false, 1, 1e6).value_or(0);
    if (auto w = rl->Duration("max_wait", false, absl::ZeroDuration())) c->rate_limit.max_wait = *w;
    c->rate_limit.reset_header = rl->String("reset_header").value_or("");
    rl->Finish();
  }
}

}  // namespace recovery

#endif  // RECOVERY_SPEC_HTTP_SECTION_H_
