#include "testing/token_server.h"

#include <stdexcept>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "httplib.h"
#include "testing/loopback_server.h"

namespace recovery {
namespace testing {
namespace {

std::string OAuthError(const std::string& error, const std::string& description) {
  return absl::StrCat(R"({"error":")", error, R"(","error_description":")", description, R"("})");
}

}  // namespace

TokenServer::TokenServer(TokenServerOptions options) : options_(std::move(options)) {
  refresh_ = options_.refresh_token;
  server_ = std::make_unique<httplib::Server>();
  server_->Post("/oauth/token", [this](const httplib::Request& req, httplib::Response& res) {
    std::map<std::string, std::string> form;
    for (const auto& [k, v] : req.params) form[k] = v;
    const Answer a = Grant(form, req.get_header_value("Authorization"));
    res.status = a.status;
    res.set_content(a.body, "application/json");
  });
  port_ = StartLoopbackServer(*server_, &thread_, "token server");
}

TokenServer::~TokenServer() {
  server_->stop();
  if (thread_.joinable()) thread_.join();
}

std::string TokenServer::url() const { return absl::StrCat("http://127.0.0.1:", port_, "/oauth/token"); }

std::function<bool(std::string_view)> TokenServer::Authorizer() {
  return [this](std::string_view authorization) {
    constexpr std::string_view kBearer = "Bearer ";
    if (authorization.substr(0, kBearer.size()) != kBearer) return false;
    absl::MutexLock lock(&mu_);
    auto it = access_.find(std::string(authorization.substr(kBearer.size())));
    return it != access_.end() && absl::Now() < it->second;
  };
}

void TokenServer::RevokeAll() {
  absl::MutexLock lock(&mu_);
  access_.clear();
}

void TokenServer::RefreshAndForget() {
  absl::MutexLock lock(&mu_);
  (void)Refresh(refresh_);
}

int TokenServer::tokens_issued() const {
  absl::MutexLock lock(&mu_);
  return issued_;
}

int TokenServer::requests() const {
  absl::MutexLock lock(&mu_);
  return requests_;
}

int TokenServer::refused() const {
  absl::MutexLock lock(&mu_);
  return refused_;
}

std::string TokenServer::refresh_token() const {
  absl::MutexLock lock(&mu_);
  return refresh_;
}

std::string TokenServer::Issue() {
  std::string token = absl::StrCat("at-", ++issued_, "-", absl::ToUnixNanos(absl::Now()) % 1000003);
  access_[token] = absl::Now() + options_.lifetime;
  return absl::StrCat(R"({"access_token":")", token, R"(","token_type":"Bearer","expires_in":)",
                      absl::ToInt64Seconds(options_.lifetime), "}");
}

TokenServer::Answer TokenServer::Refresh(const std::string& token) {
  const bool newest = !refresh_.empty() && token == refresh_;
  const bool in_grace =
      !options_.strict && !refresh_used_ && !previous_refresh_.empty() && token == previous_refresh_;
  if (!newest && !in_grace) {
    ++refused_;
    return {400, OAuthError("invalid_grant", "the refresh token is not valid")};
  }
  if (newest) refresh_used_ = true;
  std::string body = Issue();
  if (options_.rotate) {
    if (newest) previous_refresh_ = refresh_;
    refresh_ = absl::StrCat("rt-", ++rotations_, "-", absl::ToUnixNanos(absl::Now()) % 1000003);
    refresh_used_ = false;
    body.pop_back();
    absl::StrAppend(&body, R"(,"refresh_token":")", refresh_, R"("})");
  }
  return {200, std::move(body)};
}

TokenServer::Answer TokenServer::Grant(const std::map<std::string, std::string>& form,
                                       const std::string& authorization) {
  absl::MutexLock lock(&mu_);
  ++requests_;
  auto get = [&](const std::string& key) {
    auto it = form.find(key);
    return it == form.end() ? std::string() : it->second;
  };
  std::string id = get("client_id"), secret = get("client_secret");
  if (authorization.rfind("Basic ", 0) == 0) {
    std::string decoded;
    absl::Base64Unescape(authorization.substr(6), &decoded);
    const size_t colon = decoded.find(':');
    id = decoded.substr(0, colon);
    secret = colon == std::string::npos ? "" : decoded.substr(colon + 1);
  }
  const std::string grant = get("grant_type");
  if (grant == "client_credentials") {
    if (id != options_.client_id || secret != options_.client_secret) {
      ++refused_;
      return {401, OAuthError("invalid_client", "client authentication failed")};
    }
    return {200, Issue()};
  }
  if (grant == "refresh_token") return Refresh(get("refresh_token"));
  ++refused_;
  return {400, OAuthError("unsupported_grant_type", grant)};
}

}  // namespace testing
}  // namespace recovery
