#include "http/http_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <mutex>

#include "absl/strings/numbers.h"
#include "absl/time/clock.h"
#include "util/strings.h"

namespace recovery {
namespace {

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
    s.remove_suffix(1);
  return s;
}

// Owns a CURLU.
class Url {
 public:
  Url() : h_(curl_url()) {}
  ~Url() { curl_url_cleanup(h_); }
  Url(const Url&) = delete;
  Url& operator=(const Url&) = delete;
  bool Set(CURLUPart part, const std::string& value, unsigned flags = 0) {
    return curl_url_set(h_, part, value.c_str(), flags) == CURLUE_OK;
  }
  bool Clear(CURLUPart part) { return curl_url_set(h_, part, nullptr, 0) == CURLUE_OK; }
  std::string Get(CURLUPart part, unsigned flags = 0) const {
    char* out = nullptr;
    if (curl_url_get(h_, part, &out, flags) != CURLUE_OK) return "";
    std::string s(out);
    curl_free(out);
    return s;
  }

 private:
  CURLU* h_;
};

struct Transfer {
  HttpResponse* response;
  size_t max_bytes;
  const std::atomic<bool>* aborted;
  bool too_big = false;
};

int OnProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<Transfer*>(user)->aborted->load() ? 1 : 0;  // non-zero aborts the transfer
}

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t n = size * count;
  if (t->response->body.size() + n > t->max_bytes) {
    t->too_big = true;
    return 0;  // aborts the transfer: the cap holds while reading, not after
  }
  t->response->body.append(data, n);
  return n;
}

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t n = size * count;
  std::string_view line(data, n);
  if (line.rfind("HTTP/", 0) == 0) {
    t->response->headers.clear();  // a new response (after 100 Continue)
    return n;
  }
  const size_t colon = line.find(':');
  if (colon != std::string_view::npos) {
    t->response->headers.emplace_back(Lower(Trim(line.substr(0, colon))),
                                      std::string(Trim(line.substr(colon + 1))));
  }
  return n;
}

bool IsRedirect(long status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

}  // namespace

const std::string* HttpResponse::Header(std::string_view name) const {
  const std::string lower = Lower(name);
  for (auto it = headers.rbegin(); it != headers.rend(); ++it) {
    if (it->first == lower) return &it->second;
  }
  return nullptr;
}

std::string ResolveUrl(const std::string& base, const std::string& url) {
  Url u;
  if (!u.Set(CURLUPART_URL, base) || !u.Set(CURLUPART_URL, url)) return url;
  return u.Get(CURLUPART_URL);
}

bool SameOrigin(const std::string& a, const std::string& b) {
  Url x, y;
  if (!x.Set(CURLUPART_URL, a) || !y.Set(CURLUPART_URL, b)) return false;
  return Lower(x.Get(CURLUPART_SCHEME)) == Lower(y.Get(CURLUPART_SCHEME)) &&
         Lower(x.Get(CURLUPART_HOST)) == Lower(y.Get(CURLUPART_HOST)) &&
         x.Get(CURLUPART_PORT, CURLU_DEFAULT_PORT) == y.Get(CURLUPART_PORT, CURLU_DEFAULT_PORT);
}

std::string RemoveQueryParam(const std::string& url, std::string_view name) {
  Url u;
  if (name.empty() || !u.Set(CURLUPART_URL, url)) return url;
  const std::string query = u.Get(CURLUPART_QUERY);
  if (query.empty()) return url;
  const std::string encoded = UrlEncode(name);
  std::string kept;
  size_t pos = 0;
  while (pos <= query.size()) {
    size_t amp = query.find('&', pos);
    if (amp == std::string::npos) amp = query.size();
    std::string_view part(query.data() + pos, amp - pos);
    std::string_view key = part.substr(0, part.find('='));
    if (!part.empty() && key != name && key != encoded) {
      if (!kept.empty()) kept.push_back('&');
      kept.append(part);
    }
    pos = amp + 1;
  }
  if (kept.empty()) {
    u.Clear(CURLUPART_QUERY);
  } else {
    u.Set(CURLUPART_QUERY, kept);
  }
  return u.Get(CURLUPART_URL);
}

std::string AddQueryParam(const std::string& url, std::string_view name, std::string_view value) {
  Url u;
  if (!u.Set(CURLUPART_URL, url)) return url;
  u.Set(CURLUPART_QUERY, StrCat(UrlEncode(name), "=", UrlEncode(value)), CURLU_APPENDQUERY);
  return u.Get(CURLUPART_URL);
}

namespace {

// The method, and the body for any method but GET and HEAD.
void SetMethodAndBody(CURL* c, const HttpRequest& request) {
  if (request.method == "HEAD") {
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);  // the handle is reset before each request
  } else if (request.method == "POST") {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, request.body.c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
  } else if (request.method != "GET") {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    if (!request.body.empty()) {
      curl_easy_setopt(c, CURLOPT_POSTFIELDS, request.body.c_str());
      curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
    }
  }
}

// The status of a transfer libcurl failed with `code` (`error`: its message
// buffer), by what the caller can do about it: retry, fix the spec, or stop.
absl::Status TransferFailure(CURLcode code, const char* error, bool too_big, size_t max_response_bytes,
                             const HttpRequest& request, const Redactor& redactor) {
  const std::string what =
      StrCat(request.method, " ", redactor.Redact(request.url), ": ", curl_easy_strerror(code),
             error[0] ? StrCat(" (", redactor.Redact(error), ")") : "");
  switch (code) {
    case CURLE_ABORTED_BY_CALLBACK:
      return absl::CancelledError(
          ToAbsl(StrCat(request.method, " ", redactor.Redact(request.url), ": aborted")));
    case CURLE_WRITE_ERROR:
      if (too_big) {
        return absl::OutOfRangeError(StrCat(request.method, " ", redactor.Redact(request.url),
                                            ": response exceeds max_response_bytes (", max_response_bytes,
                                            ")"));
      }
      return absl::UnavailableError(ToAbsl(what));
    case CURLE_OPERATION_TIMEDOUT:
      return absl::DeadlineExceededError(ToAbsl(what));
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
      return absl::FailedPreconditionError(ToAbsl(StrCat(
          what, "; the server's certificate is not trusted: set source.tls.ca_file to its CA bundle")));
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
      return absl::InvalidArgumentError(ToAbsl(what));
    default:  // connection refused or reset, truncated body, DNS, HTTP/2 stream errors ...
      return absl::UnavailableError(ToAbsl(what));
  }
}

}  // namespace

HttpClient::HttpClient(HttpClientOptions options) : options_(std::move(options)) {
  GlobalInit();
  curl_ = curl_easy_init();
}

HttpClient::~HttpClient() { curl_easy_cleanup(static_cast<CURL*>(curl_)); }

absl::Status HttpClient::PerformOnce(const HttpRequest& request, HttpResponse* response,
                                     const Redactor& redactor) {
  CURL* c = static_cast<CURL*>(curl_);
  curl_easy_reset(c);  // keeps live connections, so pages reuse them
  response->status = 0;
  response->headers.clear();
  response->body.clear();
  Transfer transfer{response, options_.max_response_bytes, &aborted_};
  char error[CURL_ERROR_SIZE] = {};
  curl_slist* headers = nullptr;
  for (const HttpHeader& h : request.headers)
    headers = curl_slist_append(headers, StrCat(h.name, ": ", h.value).c_str());
  curl_easy_setopt(c, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");  // every encoding this libcurl decodes
  if (!request.aws_sigv4.empty()) {                  // signs the method, URL, headers given here and the body
    curl_easy_setopt(c, CURLOPT_AWS_SIGV4, request.aws_sigv4.c_str());
    curl_easy_setopt(c, CURLOPT_USERNAME, request.aws_access_key_id.c_str());
    curl_easy_setopt(c, CURLOPT_PASSWORD, request.aws_secret_access_key.c_str());
  }
  curl_easy_setopt(c, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_2TLS));
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(absl::ToInt64Milliseconds(options_.connect_timeout)));
  const absl::Duration timeout = request.timeout > absl::ZeroDuration() ? request.timeout : options_.timeout;
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(absl::ToInt64Milliseconds(timeout)));
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, options_.verify_tls ? 1L : 0L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, options_.verify_tls ? 2L : 0L);
  if (!options_.ca_file.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, options_.ca_file.c_str());
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &OnBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &transfer);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, &OnHeader);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &transfer);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, &OnProgress);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, &transfer);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  SetMethodAndBody(c, request);
  const CURLcode code = curl_easy_perform(c);
  curl_slist_free_all(headers);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, nullptr);
  response->body.reserve(response->body.size() + 64);  // padding for in-place parsing
  if (code == CURLE_OK) {
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &response->status);
    return absl::OkStatus();
  }
  return TransferFailure(code, error, transfer.too_big, options_.max_response_bytes, request, redactor);
}

// Seconds or an HTTP-date, as Retry-After allows.
std::optional<absl::Duration> ParseRetryAfter(const std::string& value) {
  int64_t seconds;
  if (absl::SimpleAtoi(value, &seconds)) return absl::Seconds(std::max<int64_t>(0, seconds));
  const time_t when = curl_getdate(value.c_str(), nullptr);
  if (when < 0) return std::nullopt;
  return std::max(absl::ZeroDuration(), absl::FromTimeT(when) - absl::Now());
}

absl::Status HttpClient::Perform(const HttpRequest& request, HttpResponse* response,
                                 const Redactor& redactor) {
  HttpRequest current = request;
  for (int hops = 0;; ++hops) {
    if (absl::Status s = PerformOnce(current, response, redactor); !s.ok()) return s;
    const std::string* location = response->Header("location");
    if (!IsRedirect(response->status) || location == nullptr) {
      response->url = current.url;
      return absl::OkStatus();
    }
    if (hops >= options_.max_redirects) {
      return absl::FailedPreconditionError(
          ToAbsl(StrCat(request.method, " ", redactor.Redact(request.url), ": more than ",
                        options_.max_redirects, " redirects")));
    }
    std::string next = ResolveUrl(current.url, *location);
    if (!SameOrigin(current.url, next)) {  // credentials stay with the origin they were meant for
      current.headers.erase(std::remove_if(current.headers.begin(), current.headers.end(),
                                           [](const HttpHeader& h) { return h.credential; }),
                            current.headers.end());
      next = RemoveQueryParam(next, current.credential_query_param);
      current.aws_sigv4.clear();
      current.aws_access_key_id.clear();
      current.aws_secret_access_key.clear();
    }
    if (response->status == 303 ||
        ((response->status == 301 || response->status == 302) && current.method == "POST")) {
      current.method = "GET";
      current.body.clear();
    }
    current.url = std::move(next);
  }
}

}  // namespace recovery
