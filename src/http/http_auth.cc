// Resolving a job's HTTP credentials, and putting them on each request.
#include "http/http_auth.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/escaping.h"
#include "recovery/secret.h"
#include "recovery/status.h"
#include "util/strings.h"

namespace recovery {
namespace {

// The job-spec key of the auth secret, for messages.
std::string_view SecretKey(HttpAuthType type) {
  switch (type) {
    case HttpAuthType::kBearer:
      return "token";
    case HttpAuthType::kBasic:
      return "password";
    default:
      return "value";
  }
}

// "auth.token_env", "auth.token_file", "auth.token_cmd" or "auth.token": the key that gave the secret.
std::string SecretPath(std::string_view path, std::string_view key, const SecretRef& secret) {
  const std::string at = StrCat("auth.", key);
  if (!secret.env.empty()) return JoinPath(path, StrCat(at, "_env"));
  if (!secret.file.empty()) return JoinPath(path, StrCat(at, "_file"));
  if (!secret.command.empty()) return JoinPath(path, StrCat(at, "_cmd"));
  return JoinPath(path, at);
}

void CheckOAuth2(const HttpOAuth2& o, std::string_view path, FieldErrors* errors) {
  const std::string at = JoinPath(path, "auth");
  CheckRequired(o.token_url, JoinPath(at, "token_url"), errors);
  if (!o.token_url.empty() && o.token_url.rfind("http://", 0) != 0 && o.token_url.rfind("https://", 0) != 0) {
    errors->Add(JoinPath(at, "token_url"), "must start with http:// or https://");
  }
  const int secrets = !o.client_secret.env.empty() + !o.client_secret.file.empty() +
                      !o.client_secret.value.empty() + !o.client_secret.command.empty();
  if (secrets > 1) {
    errors->Add(JoinPath(at, "client_secret"),
                "give one of \"client_secret\", \"client_secret_env\", \"client_secret_file\" or "
                "\"client_secret_cmd\"");
  }
  if (o.grant == HttpOAuth2Grant::kClientCredentials) {
    CheckRequired(o.client_id, JoinPath(at, "client_id"), errors);
    if (secrets == 0) {
      errors->Add(JoinPath(at, "client_secret_env"),
                  "required for the client_credentials grant: the environment variable holding the client "
                  "secret (or a file, with client_secret_file, or a command printing it, with "
                  "client_secret_cmd)");
    }
  } else {
    CheckRequired(o.refresh_token_file, JoinPath(at, "refresh_token_file"), errors);
  }
  if (o.client_secret_basic && secrets == 0) {
    errors->Add(JoinPath(at, "client_auth"), "\"basic\" sends the client secret, and none is given");
  }
  if (o.refresh_margin < absl::ZeroDuration())
    errors->Add(JoinPath(at, "refresh_margin"), "must not be negative");
}

std::string Base64(std::string_view s) { return absl::Base64Escape(ToAbsl(s)); }

// OAuth2: the client secret must be there now; tokens are fetched when a
// client first needs one.
bool ResolveOAuth2(const HttpOAuth2& oauth2, const HttpClientOptions& client, std::string_view path,
                   FieldErrors* errors, HttpCredentials* out, Redactor* redactor,
                   std::vector<std::string>* warnings) {
  if (!oauth2.client_secret.empty()) {
    absl::StatusOr<std::string> secret = ResolveSecret(oauth2.client_secret);
    if (!secret.ok()) {
      errors->Add(SecretPath(path, "client_secret", oauth2.client_secret), ToStd(secret.status().message()));
      return false;
    }
    redactor->Add(*secret);
    if (!oauth2.client_secret.value.empty()) {
      warnings->push_back(
          StrCat(JoinPath(path, "auth.client_secret"),
                 " holds a secret inline; prefer \"client_secret_env\" or \"client_secret_file\""));
    }
  }
  if (oauth2.grant == HttpOAuth2Grant::kRefreshToken &&
      ::access(oauth2.refresh_token_file.c_str(), R_OK) != 0) {
    errors->Add(JoinPath(path, "auth.refresh_token_file"),
                StrCat(oauth2.refresh_token_file, " cannot be read: ", std::strerror(errno)));
    return false;
  }
  out->renewable = std::make_shared<OAuth2Tokens>(oauth2, client);
  return true;
}

}  // namespace

void CheckHttpAuth(const HttpAuth& auth, std::string_view path, FieldErrors* errors) {
  if (auth.type == HttpAuthType::kNone) return;
  if (auth.type == HttpAuthType::kOAuth2) return CheckOAuth2(auth.oauth2, path, errors);
  if ((auth.type == HttpAuthType::kHeader || auth.type == HttpAuthType::kQuery)) {
    CheckRequired(auth.name, JoinPath(path, "auth.name"), errors);
  }
  if (auth.type == HttpAuthType::kBasic)
    CheckRequired(auth.username, JoinPath(path, "auth.username"), errors);
  const int given = !auth.secret.env.empty() + !auth.secret.file.empty() + !auth.secret.value.empty() +
                    !auth.secret.command.empty();
  const std::string key = StrCat("auth.", SecretKey(auth.type));
  const std::string_view k = SecretKey(auth.type);
  if (given == 0) {
    errors->Add(JoinPath(path, StrCat(key, "_env")),
                "required: the environment variable holding the secret (or a file, with _file, or a "
                "command printing it, with _cmd)");
  } else if (given > 1) {
    errors->Add(JoinPath(path, key),
                StrCat("give one of \"", k, "\", \"", k, "_env\", \"", k, "_file\" or \"", k, "_cmd\""));
  }
  if (auth.secret.command_timeout <= absl::ZeroDuration())
    errors->Add(JoinPath(path, StrCat(key, "_cmd_timeout")), "must be positive");
}

bool ResolveHttpAuth(const HttpAuth& auth, const HttpClientOptions& client, std::string_view path,
                     FieldErrors* errors, HttpCredentials* out, Redactor* redactor,
                     std::vector<std::string>* warnings) {
  if (auth.type == HttpAuthType::kNone) return true;
  if (auth.type == HttpAuthType::kOAuth2)
    return ResolveOAuth2(auth.oauth2, client, path, errors, out, redactor, warnings);
  absl::StatusOr<std::string> secret = ResolveSecret(auth.secret);
  if (!secret.ok()) {
    errors->Add(SecretPath(path, SecretKey(auth.type), auth.secret), ToStd(secret.status().message()));
    return false;
  }
  redactor->Add(*secret);
  if (!auth.secret.command.empty()) {
    // Sent per request, so that a refusal can run the command again.
    auto rotating = std::make_shared<RotatingSecret>(auth, *secret);
    size_t seen = 0;
    rotating->AddSecretsTo(redactor, &seen);
    out->renewable = std::move(rotating);
    if (auth.type == HttpAuthType::kQuery) out->query_name = auth.name;  // kept out of cursors
    return true;
  }
  if (!auth.secret.value.empty()) {
    const std::string key = std::string(SecretKey(auth.type));
    warnings->push_back(StrCat(JoinPath(path, StrCat("auth.", key)), " holds a secret inline; prefer \"", key,
                               "_env\" naming an environment variable, or \"", key, "_file\""));
  }
  switch (auth.type) {
    case HttpAuthType::kBearer:
      out->headers.push_back({"Authorization", StrCat("Bearer ", *secret), true});
      break;
    case HttpAuthType::kHeader:
      out->headers.push_back({auth.name, *secret, true});
      break;
    case HttpAuthType::kBasic: {
      const std::string encoded = Base64(StrCat(auth.username, ":", *secret));
      redactor->Add(encoded);
      out->headers.push_back({"Authorization", StrCat("Basic ", encoded), true});
      break;
    }
    case HttpAuthType::kQuery:
      out->query_name = auth.name;
      out->query_value = *secret;
      break;
    case HttpAuthType::kNone:
    case HttpAuthType::kOAuth2:  // handled above
      break;
  }
  return true;
}

absl::Status RequestAuthorizer::Apply(HttpRequest* request, Redactor* redactor, bool* renewed) {
  for (const HttpHeader& h : credentials_.headers) request->headers.push_back(h);
  if (!credentials_.query_name.empty() && credentials_.renewable == nullptr) {
    request->credential_query_param = credentials_.query_name;
    request->url = AddQueryParam(RemoveQueryParam(request->url, credentials_.query_name),
                                 credentials_.query_name, credentials_.query_value);
  }
  RenewableSecret* secret = credentials_.renewable.get();
  if (secret == nullptr) return absl::OkStatus();
  absl::StatusOr<RenewableSecret::Current> current = secret->Get();
  if (!current.ok()) return current.status();
  *renewed = *renewed || current->renewed;
  if (current->generation != generation_ || secrets_seen_ == 0) {
    secret->AddSecretsTo(redactor, &secrets_seen_);
    generation_ = current->generation;
  }
  RenewableSecret::Placement at = secret->Place(current->value);
  if (at.in_query) {
    request->credential_query_param = at.name;
    request->url = AddQueryParam(RemoveQueryParam(request->url, at.name), at.name, at.content);
  } else {
    request->headers.push_back({std::move(at.name), std::move(at.content), true});
  }
  return absl::OkStatus();
}

absl::Status RequestAuthorizer::Answered(const HttpRequest& request, long status, const Redactor& redactor) {
  RenewableSecret* secret = credentials_.renewable.get();
  if (secret == nullptr) return absl::OkStatus();
  if (status == 401 && secret->Refused(generation_)) {
    absl::Status s = absl::UnavailableError(ToAbsl(StrCat(request.method, " ", redactor.Redact(request.url),
                                                          " returned HTTP 401: ", secret->on_refusal())));
    SetRetryAfter(s, absl::ZeroDuration());
    return s;
  }
  if (status < 400) secret->Accepted(generation_);
  return absl::OkStatus();
}

}  // namespace recovery
