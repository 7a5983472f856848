#include "http/oauth2.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "recovery/secret.h"
#include "recovery/status.h"
#include "simdjson.h"
#include "util/file.h"
#include "util/status_macros.h"
#include "util/strings.h"

namespace recovery {
namespace {

// Errors with which the endpoint refuses the grant or the client: reading
// the secrets anew may help once, retrying the same ones never does.
bool RefusesGrant(std::string_view error) {
  return error == "invalid_grant" || error == "invalid_client" || error == "unauthorized_client" ||
         error == "invalid_scope" || error == "unsupported_grant_type" || error == "invalid_request";
}

// An exclusive lock on "<file>.lock", held while it lives.
class RefreshLock {
 public:
  static absl::StatusOr<std::unique_ptr<RefreshLock>> Take(const std::string& file) {
    const std::string path = StrCat(file, ".lock");
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return ErrnoError(errno, "open", path);
    while (::flock(fd, LOCK_EX) != 0) {
      if (errno == EINTR) continue;
      const int e = errno;
      ::close(fd);
      return ErrnoError(e, "lock", path);
    }
    return std::unique_ptr<RefreshLock>(new RefreshLock(fd));
  }
  ~RefreshLock() { ::close(fd_); }  // releases the lock
  RefreshLock(const RefreshLock&) = delete;
  RefreshLock& operator=(const RefreshLock&) = delete;

 private:
  explicit RefreshLock(int fd) : fd_(fd) {}
  int fd_;
};

// What a refresh of a rotating token holds until its write-back: the lock
// beside the file and, when the options give one, the lock hosts share.
struct RefreshTurn {
  std::unique_ptr<RefreshLock> file;
  std::unique_ptr<JobLock> hosts;
};

absl::StatusOr<RefreshTurn> TakeRefreshTurn(const HttpOAuth2& options) {
  RefreshTurn turn;
  RECOVERY_ASSIGN_OR_RETURN(turn.file, RefreshLock::Take(options.refresh_token_file));
  if (!options.hosts_lock) return turn;
  absl::StatusOr<std::unique_ptr<JobLock>> held =
      options.hosts_lock(StrCat("recovery oauth2 refresh ", options.token_url, " ", options.client_id));
  if (!held.ok()) {
    return absl::Status(held.status().code(),
                        ToAbsl(StrCat("source.auth: the lock the hosts of the job share around a refresh: ",
                                      held.status().message())));
  }
  turn.hosts = *std::move(held);
  return turn;
}

std::string_view GrantName(HttpOAuth2Grant grant) {
  return grant == HttpOAuth2Grant::kRefreshToken ? "refresh_token" : "client_credentials";
}

}  // namespace

absl::StatusOr<OAuth2Issued> ParseOAuth2Answer(std::string_view body) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(body.data(), body.size()).get(root) != simdjson::SUCCESS)
    return absl::UnavailableError("its answer is not JSON");
  OAuth2Issued issued;
  std::string_view s;
  if (root["access_token"].get_string().get(s) != simdjson::SUCCESS || s.empty()) {
    return absl::UnavailableError("its answer has no access_token");
  }
  issued.access_token = std::string(s);
  if (root["refresh_token"].get_string().get(s) == simdjson::SUCCESS) issued.refresh_token = std::string(s);
  // A number of seconds; some send it quoted.
  double seconds = -1;
  if (root["expires_in"].get_double().get(seconds) != simdjson::SUCCESS &&
      (root["expires_in"].get_string().get(s) != simdjson::SUCCESS ||
       !absl::SimpleAtod(absl::string_view(s.data(), s.size()), &seconds))) {
    seconds = -1;
  }
  if (seconds >= 0) issued.lifetime = absl::Seconds(seconds);
  return issued;
}

OAuth2Error ParseOAuth2Error(std::string_view body) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  std::string_view error, description;
  if (parser.parse(body.data(), body.size()).get(root) == simdjson::SUCCESS) {
    if (root["error"].get_string().get(error) != simdjson::SUCCESS) error = {};
    if (root["error_description"].get_string().get(description) != simdjson::SUCCESS) description = {};
  }
  return {std::string(error.substr(0, 100)), std::string(description.substr(0, 300))};
}

OAuth2Tokens::OAuth2Tokens(HttpOAuth2 options, HttpClientOptions client)
    : options_(std::move(options)), client_(std::move(client)) {}

absl::StatusOr<RenewableSecret::Current> OAuth2Tokens::Get() {
  {
    absl::MutexLock lock(&mu_);
    if (!permanent_.ok()) return permanent_;
    const absl::Time now = absl::Now();
    if (!access_token_.empty() && (now < refresh_at_ || (now < expires_at_ && refreshing_))) {
      return Current{access_token_, generation_, false};  // fresh, or valid while another renews it
    }
  }
  absl::MutexLock turn(&refresh_mu_);  // one renewal at a time
  {
    absl::MutexLock lock(&mu_);
    if (!permanent_.ok()) return permanent_;
    if (!access_token_.empty() && absl::Now() < refresh_at_) {
      return Current{access_token_, generation_, false};  // renewed while this call waited
    }
    refreshing_ = true;
  }
  const absl::Time asked = absl::Now();
  absl::StatusOr<Issued> issued = Fetch();
  absl::MutexLock lock(&mu_);
  refreshing_ = false;
  if (!issued.ok()) {
    if (issued.status().code() == absl::StatusCode::kUnauthenticated) permanent_ = issued.status();
    return issued.status();
  }
  // Renewed before it expires by the margin or half its life, whichever is
  // shorter; without expires_in, only when the API refuses it.
  const bool expires = issued->lifetime != absl::InfiniteDuration();
  expires_at_ = expires ? asked + issued->lifetime : absl::InfiniteFuture();
  refresh_at_ = expires ? expires_at_ - std::min(options_.refresh_margin, issued->lifetime / 2)
                        : absl::InfiniteFuture();
  access_token_ = issued->access_token;
  secrets_.push_back(access_token_);
  ++generation_;
  after_refusal_.store(refusal_pending_);
  refusal_pending_ = false;
  return Current{access_token_, generation_, true};
}

absl::StatusOr<OAuth2Tokens::Issued> OAuth2Tokens::Fetch() {
  absl::StatusOr<Issued> issued = Exchange(/*reread=*/false);
  if (issued.status().code() == absl::StatusCode::kUnauthenticated) {
    issued = Exchange(/*reread=*/true);  // the secrets may have rotated since they were read
  }
  return issued;
}

absl::Status OAuth2Tokens::ReadSecrets(bool reread) {
  std::vector<std::string> seen;
  if (!options_.client_secret.empty() && (reread || client_secret_.empty())) {
    absl::StatusOr<std::string> secret = ResolveSecret(options_.client_secret);
    if (!secret.ok()) {
      return absl::UnauthenticatedError(
          ToAbsl(StrCat("source.auth.client_secret: ", secret.status().message())));
    }
    client_secret_ = *std::move(secret);
    seen.push_back(client_secret_);
  }
  if (options_.grant ==
      HttpOAuth2Grant::kRefreshToken) {  // always the newest: another process may have rotated it
    absl::StatusOr<std::string> text = ReadFile(options_.refresh_token_file);
    const std::string at = StrCat("source.auth.refresh_token_file ", options_.refresh_token_file);
    if (!text.ok()) return absl::UnauthenticatedError(ToAbsl(StrCat(at, ": ", text.status().message())));
    refresh_token_ = std::string(absl::StripAsciiWhitespace(*text));
    if (refresh_token_.empty()) return absl::UnauthenticatedError(ToAbsl(StrCat(at, ": the file is empty")));
    seen.push_back(refresh_token_);
  }
  absl::MutexLock lock(&mu_);
  for (std::string& s : seen) {
    if (std::find(secrets_.begin(), secrets_.end(), s) == secrets_.end()) secrets_.push_back(std::move(s));
  }
  return absl::OkStatus();
}

absl::Status OAuth2Tokens::SaveRotated(const std::string& refresh_token) {
  absl::Status saved = WriteFileAtomically(options_.refresh_token_file, StrCat(refresh_token, "\n"));
  if (!saved.ok()) {
    return absl::Status(saved.code(),
                        ToAbsl(StrCat("source.auth.refresh_token_file: the rotated refresh token "
                                      "could not be saved: ",
                                      saved.message())));
  }
  refresh_token_ = refresh_token;
  absl::MutexLock lock(&mu_);
  secrets_.push_back(refresh_token);
  return absl::OkStatus();
}

absl::StatusOr<OAuth2Tokens::Issued> OAuth2Tokens::Exchange(bool reread) {
  RefreshTurn turn;  // held until the rotated token is saved
  if (options_.grant == HttpOAuth2Grant::kRefreshToken) {
    RECOVERY_ASSIGN_OR_RETURN(turn, TakeRefreshTurn(options_));
  }
  RECOVERY_RETURN_IF_ERROR(ReadSecrets(reread));
  HttpRequest request;
  request.method = "POST";
  request.url = options_.token_url;
  request.headers.push_back({"Content-Type", "application/x-www-form-urlencoded", false});
  request.headers.push_back({"Accept", "application/json", false});
  std::vector<std::pair<std::string_view, std::string_view>> form = {
      {"grant_type", GrantName(options_.grant)}};
  if (options_.grant == HttpOAuth2Grant::kRefreshToken) form.emplace_back("refresh_token", refresh_token_);
  if (!options_.scope.empty()) form.emplace_back("scope", options_.scope);
  if (!options_.audience.empty()) form.emplace_back("audience", options_.audience);
  if (options_.client_secret_basic && !client_secret_.empty()) {
    const std::string pair = StrCat(UrlEncode(options_.client_id), ":", UrlEncode(client_secret_));
    request.headers.push_back({"Authorization", StrCat("Basic ", absl::Base64Escape(pair)), true});
  } else {
    if (!options_.client_id.empty()) form.emplace_back("client_id", options_.client_id);
    if (!client_secret_.empty()) form.emplace_back("client_secret", client_secret_);
  }
  for (const auto& [name, value] : form) {
    StrAppend(&request.body, request.body.empty() ? "" : "&", UrlEncode(name), "=", UrlEncode(value));
  }
  Redactor redactor;
  size_t seen = 0;
  AddSecretsTo(&redactor, &seen);
  HttpResponse response;
  const std::string where = StrCat("the token endpoint ", redactor.Redact(options_.token_url));
  if (absl::Status s = client_.Perform(request, &response, redactor); !s.ok()) {
    return absl::Status(s.code(), ToAbsl(StrCat(where, ": ", s.message())));
  }
  if (response.status >= 200 && response.status < 300) {
    absl::StatusOr<Issued> issued = ParseOAuth2Answer(response.body);
    if (!issued.ok()) return absl::UnavailableError(ToAbsl(StrCat(where, ": ", issued.status().message())));
    if (options_.grant == HttpOAuth2Grant::kRefreshToken && !issued->refresh_token.empty() &&
        issued->refresh_token != refresh_token_) {
      RECOVERY_RETURN_IF_ERROR(SaveRotated(issued->refresh_token));  // the old one may be dead already
    }
    return issued;
  }
  const auto [error, description] = ParseOAuth2Error(response.body);
  const std::string what = StrCat(where, " answered HTTP ", response.status,
                                  error.empty() ? "" : StrCat(": ", redactor.Redact(error)),
                                  description.empty() ? "" : StrCat(" (", redactor.Redact(description), ")"));
  if (response.status == 408 || response.status == 429 || response.status >= 500) {
    absl::Status s = absl::UnavailableError(ToAbsl(what));
    if (const std::string* h = response.Header("retry-after")) {
      if (std::optional<absl::Duration> wait = ParseRetryAfter(*h)) SetRetryAfter(s, *wait);
    }
    return s;
  }
  const std::string whose = options_.grant == HttpOAuth2Grant::kRefreshToken
                                ? StrCat("the refresh token in ", options_.refresh_token_file)
                                : StrCat("client ", options_.client_id);
  return absl::UnauthenticatedError(
      ToAbsl(StrCat("source.auth: ", what, RefusesGrant(error) ? StrCat("; it refused ", whose) : "", " (",
                    GrantName(options_.grant), " grant); fix the credentials, then run again to resume")));
}

bool OAuth2Tokens::Refused(uint64_t generation) {
  absl::MutexLock lock(&mu_);
  if (generation != generation_) return true;        // a newer token exists already
  if (after_refusal_.load()) return false;           // a fresh token refused too
  refresh_at_ = expires_at_ = absl::InfinitePast();  // renewed by the next Get()
  refusal_pending_ = true;
  return true;
}

void OAuth2Tokens::Accepted(uint64_t generation) {
  if (!after_refusal_.load(std::memory_order_relaxed)) return;
  absl::MutexLock lock(&mu_);
  if (generation == generation_) after_refusal_.store(false);
}

void OAuth2Tokens::AddSecretsTo(Redactor* redactor, size_t* seen) const {
  absl::MutexLock lock(&mu_);
  for (; *seen < secrets_.size(); ++*seen) redactor->Add(secrets_[*seen]);
}

}  // namespace recovery
