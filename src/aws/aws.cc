#include "aws/aws.h"

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "recovery/secret.h"
#include "simdjson.h"
#include "util/file.h"
#include "util/strings.h"

namespace recovery {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

std::string Env(const GetEnv& getenv, const char* name) {
  const char* v = getenv(name);
  return v == nullptr ? "" : v;
}

// The key/value pairs of `[profile]` in an AWS INI file.
std::vector<std::pair<std::string, std::string>> IniSection(std::string_view text, std::string_view profile,
                                                            bool* found) {
  std::vector<std::pair<std::string, std::string>> out;
  bool in = false;
  *found = false;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    std::string_view line = Trim(text.substr(0, nl));
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line.front() == '[' && line.back() == ']') {
      in = Trim(line.substr(1, line.size() - 2)) == profile;
      *found |= in;
      continue;
    }
    const size_t eq = line.find('=');
    if (in && eq != std::string_view::npos) {
      out.emplace_back(std::string(Trim(line.substr(0, eq))), std::string(Trim(line.substr(eq + 1))));
    }
  }
  return out;
}

// The text between <tag> and </tag>, or empty.
std::string XmlElement(std::string_view body, std::string_view tag) {
  const std::string open = StrCat("<", tag, ">"), close = StrCat("</", tag, ">");
  const size_t a = body.find(open);
  if (a == std::string_view::npos) return "";
  const size_t b = body.find(close, a + open.size());
  if (b == std::string_view::npos) return "";
  return std::string(body.substr(a + open.size(), b - a - open.size()));
}

// From the environment variables the job spec names; all must be set.
absl::StatusOr<AwsCredentials> CredentialsNamedInSpec(const AwsCredentialLookup& lookup,
                                                      const GetEnv& getenv) {
  AwsCredentials c;
  c.access_key_id = Env(getenv, lookup.access_key_id_env.c_str());
  c.secret_access_key = Env(getenv, lookup.secret_access_key_env.c_str());
  if (!lookup.session_token_env.empty()) c.session_token = Env(getenv, lookup.session_token_env.c_str());
  if (c.access_key_id.empty() || c.secret_access_key.empty() ||
      (!lookup.session_token_env.empty() && c.session_token.empty())) {
    std::vector<std::string> unset;
    if (c.access_key_id.empty()) unset.push_back(lookup.access_key_id_env);
    if (c.secret_access_key.empty()) unset.push_back(lookup.secret_access_key_env);
    if (!lookup.session_token_env.empty() && c.session_token.empty())
      unset.push_back(lookup.session_token_env);
    return absl::NotFoundError(
        StrCat("AWS credentials: the job spec names environment variables that are "
               "not set: ",
               Join(unset, ", ")));
  }
  c.origin = StrCat("environment variables ", lookup.access_key_id_env, "/", lookup.secret_access_key_env,
                    " (named in the job spec)");
  return c;
}

// `line` split into words: white space separates them and double quotes
// group them (a profile's credential_process line; no shell runs it).
std::vector<std::string> SplitCommandLine(std::string_view line) {
  std::vector<std::string> words;
  std::string word;
  bool quoted = false, any = false;
  for (char ch : line) {
    if (ch == '"') {
      quoted = !quoted;
      any = true;
    } else if (!quoted && std::isspace(static_cast<unsigned char>(ch))) {
      if (any) words.push_back(std::move(word));
      word.clear();
      any = false;
    } else {
      word.push_back(ch);
      any = true;
    }
  }
  if (any) words.push_back(std::move(word));
  return words;
}

// Credentials a command prints as the AWS CLI's credential_process does:
// {"Version": 1, "AccessKeyId", "SecretAccessKey", "SessionToken"}. Messages
// name `origin` and the command, never what it printed.
absl::StatusOr<AwsCredentials> CredentialsFromProcess(const std::vector<std::string>& argv,
                                                      absl::Duration timeout, const std::string& origin) {
  SecretRef ref;
  ref.command = argv;
  ref.command_timeout = timeout;
  absl::StatusOr<std::string> printed = ResolveSecret(ref);
  if (!printed.ok()) {
    return absl::Status(printed.status().code(),
                        ToAbsl(StrCat("AWS credentials from ", origin, ": ", printed.status().message())));
  }
  simdjson::dom::parser parser;
  simdjson::dom::object doc;
  int64_t version = 0;
  std::string_view key, secret, token;
  if (parser.parse(*printed).get_object().get(doc) != simdjson::SUCCESS ||
      doc["Version"].get_int64().get(version) != simdjson::SUCCESS || version != 1 ||
      doc["AccessKeyId"].get_string().get(key) != simdjson::SUCCESS ||
      doc["SecretAccessKey"].get_string().get(secret) != simdjson::SUCCESS || key.empty() || secret.empty()) {
    return absl::NotFoundError(ToAbsl(
        StrCat("AWS credentials from ", origin, ": ", argv[0],
               " printed no credentials of the credential_process form {\"Version\": 1, \"AccessKeyId\": …, "
               "\"SecretAccessKey\": …, \"SessionToken\": …}")));
  }
  AwsCredentials c;
  c.access_key_id = std::string(key);
  c.secret_access_key = std::string(secret);
  if (doc["SessionToken"].get_string().get(token) == simdjson::SUCCESS) c.session_token = std::string(token);
  c.origin = origin;
  return c;
}

// A profile's credential_process in the AWS config file (AWS_CONFIG_FILE,
// else ~/.aws/config: "[profile NAME]", or "[default]"), if it has one.
std::vector<std::string> ConfiguredProcess(const GetEnv& getenv, const std::string& profile,
                                           std::string* where) {
  std::string path = Env(getenv, "AWS_CONFIG_FILE");
  if (path.empty()) {
    const std::string home = Env(getenv, "HOME");
    if (home.empty()) return {};
    path = StrCat(home, "/.aws/config");
  }
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) return {};
  bool found = false;
  for (auto& [k, v] :
       IniSection(*text, profile == "default" ? profile : StrCat("profile ", profile), &found)) {
    if (k == "credential_process") {
      *where = StrCat(path, " profile \"", profile, "\" credential_process");
      return SplitCommandLine(v);
    }
  }
  return {};
}

}  // namespace

absl::StatusOr<AwsCredentials> ResolveAwsCredentials(const AwsCredentialLookup& lookup,
                                                     const GetEnv& getenv) {
  std::vector<std::string> looked;
  // 1. Named in the job spec: a command, or environment variables.
  if (!lookup.process.empty()) {
    return CredentialsFromProcess(lookup.process, lookup.process_timeout, "credentials.process");
  }
  if (!lookup.access_key_id_env.empty() || !lookup.secret_access_key_env.empty()) {
    return CredentialsNamedInSpec(lookup, getenv);
  }
  // 2. The standard environment variables.
  AwsCredentials c;
  c.access_key_id = Env(getenv, "AWS_ACCESS_KEY_ID");
  c.secret_access_key = Env(getenv, "AWS_SECRET_ACCESS_KEY");
  if (!c.access_key_id.empty() && !c.secret_access_key.empty()) {
    c.session_token = Env(getenv, "AWS_SESSION_TOKEN");
    c.origin = "environment variables AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY";
    return c;
  }
  looked.push_back(c.access_key_id.empty() && c.secret_access_key.empty()
                       ? "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (not set)"
                       : "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (only one of them is set)");
  // 3. The shared credentials file.
  std::string path = Env(getenv, "AWS_SHARED_CREDENTIALS_FILE");
  if (path.empty()) {
    const std::string home = Env(getenv, "HOME");
    path = home.empty() ? "" : StrCat(home, "/.aws/credentials");
  }
  std::string profile = lookup.profile;
  if (profile.empty()) profile = Env(getenv, "AWS_PROFILE");
  if (profile.empty()) profile = "default";
  if (path.empty()) {
    looked.push_back("~/.aws/credentials (HOME is not set)");
  } else {
    absl::StatusOr<std::string> text = ReadFile(path);
    if (!text.ok()) {
      looked.push_back(StrCat(path, " (", text.status().message(), ")"));
    } else {
      bool found = false;
      std::string process;
      for (auto& [k, v] : IniSection(*text, profile, &found)) {
        if (k == "aws_access_key_id") c.access_key_id = v;
        if (k == "aws_secret_access_key") c.secret_access_key = v;
        if (k == "aws_session_token") c.session_token = v;
        if (k == "credential_process") process = v;
      }
      if (found && c.access_key_id.empty() && !process.empty()) {
        return CredentialsFromProcess(SplitCommandLine(process), lookup.process_timeout,
                                      StrCat(path, " profile \"", profile, "\" credential_process"));
      }
      if (found && !c.access_key_id.empty() && !c.secret_access_key.empty()) {
        c.origin = StrCat(path, " profile \"", profile, "\"");
        return c;
      }
      looked.push_back(StrCat(path, found ? " (profile \"" : " (no profile \"", profile,
                              found ? "\" lacks aws_access_key_id or aws_secret_access_key)" : "\")"));
    }
  }
  // 4. A credential_process in the AWS config file.
  std::string where;
  if (std::vector<std::string> process = ConfiguredProcess(getenv, profile, &where); !process.empty()) {
    return CredentialsFromProcess(process, lookup.process_timeout, where);
  }
  looked.push_back(StrCat("the config file's profile \"", profile, "\" (no credential_process)"));
  return absl::NotFoundError(
      StrCat("no AWS credentials found; looked in: ", Join(looked, "; "),
             ". Set them there, or name the variables in credentials.access_key_id_env "
             "and credentials.secret_access_key_env"));
}

absl::StatusOr<std::string> ResolveAwsRegion(std::string_view configured, const GetEnv& getenv) {
  if (!configured.empty()) return std::string(configured);
  for (const char* name : {"AWS_REGION", "AWS_DEFAULT_REGION"}) {
    std::string v = Env(getenv, name);
    if (!v.empty()) return v;
  }
  return absl::NotFoundError(
      "no AWS region: set \"region\" in the job spec, or AWS_REGION or AWS_DEFAULT_REGION");
}

AwsError ParseAwsError(std::string_view body, const std::string* query_error_header) {
  AwsError e;
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (!body.empty() && body.front() == '{' &&
      parser.parse(body.data(), body.size()).get(root) == simdjson::SUCCESS) {
    std::string_view type, message;
    if (root["__type"].get_string().get(type) == simdjson::SUCCESS) {
      const size_t hash = type.rfind('#');
      e.code = std::string(hash == std::string_view::npos ? type : type.substr(hash + 1));
    } else if (root["code"].get_string().get(type) == simdjson::SUCCESS) {
      e.code = std::string(type);
    }
    if (root["message"].get_string().get(message) == simdjson::SUCCESS ||
        root["Message"].get_string().get(message) == simdjson::SUCCESS) {
      e.message = std::string(message);
    }
  } else if (body.find("<Code>") != std::string_view::npos) {
    e.code = XmlElement(body, "Code");
    e.message = XmlElement(body, "Message");
  }
  if (e.code.empty() && query_error_header != nullptr) {  // "AWS.SimpleQueueService.NonExistentQueue;Sender"
    e.code = query_error_header->substr(0, query_error_header->find(';'));
  }
  return e;
}

bool IsAwsThrottling(std::string_view code) {
  static constexpr std::string_view kCodes[] = {"Throttling",
                                                "ThrottlingException",
                                                "ThrottledException",
                                                "RequestThrottled",
                                                "RequestThrottledException",
                                                "TooManyRequestsException",
                                                "RequestLimitExceeded",
                                                "SlowDown",
                                                "ProvisionedThroughputExceededException",
                                                "AWS.SimpleQueueService.RequestThrottled"};
  for (std::string_view c : kCodes) {
    if (code == c) return true;
  }
  return false;
}

const char* ProcessEnv(const char* name) { return std::getenv(name); }

AwsCredentialSource::AwsCredentialSource(AwsCredentialLookup lookup, GetEnv getenv, AwsCredentials initial)
    : lookup_(std::move(lookup)), getenv_(std::move(getenv)), current_(std::move(initial)) {
  redactor_.Add(current_.secret_access_key);
  redactor_.Add(current_.session_token);
}

std::shared_ptr<AwsCredentialSource> AwsCredentialSource::Fixed(AwsCredentials credentials) {
  GetEnv nothing = [](const char*) -> const char* { return nullptr; };
  return std::make_shared<AwsCredentialSource>(AwsCredentialLookup(), std::move(nothing),
                                               std::move(credentials));
}

AwsCredentials AwsCredentialSource::Current(uint64_t* generation, Redactor* redactor) const {
  absl::MutexLock lock(&mu_);
  *generation = generation_;
  if (redactor != nullptr) *redactor = redactor_;
  return current_;
}

uint64_t AwsCredentialSource::generation() const {
  absl::MutexLock lock(&mu_);
  return generation_;
}

bool AwsCredentialSource::Refresh(uint64_t seen) {
  absl::MutexLock lock(&mu_);
  if (generation_ != seen) return true;  // another client refreshed them meanwhile
  absl::StatusOr<AwsCredentials> fresh = ResolveAwsCredentials(lookup_, getenv_);
  if (!fresh.ok() || (fresh->access_key_id == current_.access_key_id &&
                      fresh->secret_access_key == current_.secret_access_key &&
                      fresh->session_token == current_.session_token)) {
    return false;  // nothing new to try
  }
  current_ = *std::move(fresh);
  redactor_.Add(current_.secret_access_key);
  redactor_.Add(current_.session_token);
  ++generation_;
  return true;
}

void CheckAwsOptions(const AwsOptions& o, std::string_view path, FieldErrors* errors,
                     std::vector<std::string>* warnings) {
  for (char ch : o.region) {
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '-') {
      errors->Add(JoinPath(path, "region"), StrCat("\"", o.region, "\" is not a region name"));
      break;
    }
  }
  if (!o.endpoint.empty() && o.endpoint.rfind("https://", 0) != 0 && o.endpoint.rfind("http://", 0) != 0) {
    errors->Add(JoinPath(path, "endpoint"),
                StrCat("expected an http:// or https:// URL, got \"", o.endpoint, "\""));
  }
  if (o.endpoint.rfind("http://", 0) == 0 && o.endpoint.find("://127.0.0.1") == std::string::npos &&
      o.endpoint.find("://localhost") == std::string::npos) {
    warnings->push_back(
        StrCat(JoinPath(path, "endpoint"), " is plain http: requests are signed but not encrypted"));
  }
  if (!o.credential_process.empty() && !o.access_key_id_env.empty()) {
    errors->Add(JoinPath(path, "credentials"), "give a process or environment variables, not both");
  }
  if (o.credential_process_timeout <= absl::ZeroDuration()) {
    errors->Add(JoinPath(path, "credentials.process_timeout"), "must be positive");
  }
  if (o.access_key_id_env.empty() != o.secret_access_key_env.empty()) {
    errors->Add(JoinPath(path, "credentials"),
                "name both access_key_id_env and secret_access_key_env, or neither");
  }
  if (o.connect_timeout < absl::Milliseconds(1)) {
    errors->Add(JoinPath(path, "connect_timeout"), "must be at least 1ms");
  }
}

std::optional<AwsConfig> ResolveAwsConfig(const AwsOptions& o, std::string_view path, const GetEnv& getenv,
                                          FieldErrors* errors) {
  AwsConfig config;
  config.http.connect_timeout = o.connect_timeout;
  config.http.ca_file = o.ca_file;
  config.endpoint = o.endpoint;
  absl::StatusOr<std::string> region = ResolveAwsRegion(o.region, getenv);
  if (!region.ok()) {
    errors->Add(JoinPath(path, "region"), ToStd(region.status().message()));
  } else {
    config.region = *region;
    if (config.endpoint.empty()) {
      config.endpoint = StrCat("https://", config.service, ".", config.region, ".amazonaws.com/");
    }
  }
  AwsCredentialLookup lookup;
  lookup.access_key_id_env = o.access_key_id_env;
  lookup.secret_access_key_env = o.secret_access_key_env;
  lookup.session_token_env = o.session_token_env;
  lookup.profile = o.profile;
  lookup.process = o.credential_process;
  lookup.process_timeout = o.credential_process_timeout;
  absl::StatusOr<AwsCredentials> credentials = ResolveAwsCredentials(lookup, getenv);
  if (!credentials.ok()) {
    errors->Add(JoinPath(path, "credentials"), ToStd(credentials.status().message()));
    return std::nullopt;
  }
  if (!region.ok()) return std::nullopt;
  config.credentials = std::make_shared<AwsCredentialSource>(lookup, getenv, *std::move(credentials));
  return config;
}

namespace {

// Codes with which AWS refuses credentials that a fresh lookup may replace.
bool IsStaleCredentials(std::string_view code) {
  return code == "ExpiredToken" || code == "ExpiredTokenException" || code == "InvalidClientTokenId" ||
         code == "UnrecognizedClientException" || code == "RequestExpired" || code == "InvalidAccessKeyId" ||
         code == "SignatureDoesNotMatch";
}

}  // namespace

AwsJsonClient::AwsJsonClient(const AwsConfig* config) : config_(config), http_(config->http) {
  request_.method = "POST";
  request_.url = config->endpoint;
  request_.aws_sigv4 = StrCat("aws:amz:", config->region, ":", config->service);
  Sync();
}

void AwsJsonClient::Sync() {
  if (config_->credentials->generation() == generation_) return;
  credentials_ = config_->credentials->Current(&generation_, &redactor_);
  request_.aws_access_key_id = credentials_.access_key_id;
  request_.aws_secret_access_key = credentials_.secret_access_key;
}

absl::StatusOr<std::string> AwsJsonClient::Call(std::string_view action, std::string body,
                                                absl::Duration timeout) {
  Sync();
  request_.body = std::move(body);  // kept on the request for the one retry below
  absl::StatusOr<std::string> answer = CallOnce(action, timeout);
  // Refused credentials may have been rotated: look them up again, try once more.
  if (!answer.ok() && answer.status().code() == absl::StatusCode::kPermissionDenied && last_error_stale_ &&
      config_->credentials->Refresh(generation_)) {
    Sync();
    answer = CallOnce(action, timeout);
  }
  return answer;
}

absl::StatusOr<std::string> AwsJsonClient::CallOnce(std::string_view action, absl::Duration timeout) {
  last_error_stale_ = false;
  request_.headers.clear();
  // Exactly this content type: application/json is refused, none means the old XML protocol.
  request_.headers.push_back({"Content-Type", "application/x-amz-json-1.0", false});
  request_.headers.push_back({"X-Amz-Target", StrCat(config_->target_prefix, ".", action), false});
  if (!credentials_.session_token.empty()) {
    request_.headers.push_back({"X-Amz-Security-Token", credentials_.session_token, true});
  }
  request_.timeout = timeout;
  const std::string what = StrCat(config_->service, " ", action);
  absl::Status s = http_.Perform(request_, &response_, redactor_);
  if (!s.ok()) return absl::Status(s.code(), StrCat(what, ": ", s.message()));
  const long status = response_.status;
  if (status == 200) return std::move(response_.body);

  AwsError e = ParseAwsError(response_.body, response_.Header("x-amzn-query-error"));
  std::string detail = StrCat(what, ": HTTP ", status);
  if (!e.code.empty()) StrAppend(&detail, " ", e.code);
  if (!e.message.empty()) StrAppend(&detail, ": ", redactor_.Redact(e.message));
  if (e.code.empty() && e.message.empty() && !response_.body.empty()) {
    StrAppend(&detail, ": ", redactor_.Redact(std::string_view(response_.body).substr(0, 200)));
  }
  if (status >= 500 || status == 429 || IsAwsThrottling(e.code)) {
    return absl::UnavailableError(detail);
  }
  if (status == 403 || e.code == "SignatureDoesNotMatch" || e.code == "InvalidClientTokenId" ||
      e.code == "UnrecognizedClientException" || e.code == "AccessDenied" ||
      e.code == "AccessDeniedException" || e.code == "ExpiredToken" || e.code == "IncompleteSignature" ||
      e.code == "MissingAuthenticationToken") {
    last_error_stale_ = IsStaleCredentials(e.code);
    return absl::PermissionDeniedError(
        StrCat(detail, " (credentials from ", credentials_.origin, ", region ", config_->region, ")"));
  }
  if (e.code == "QueueDoesNotExist" || e.code == "AWS.SimpleQueueService.NonExistentQueue") {
    return absl::NotFoundError(detail);
  }
  return absl::InvalidArgumentError(detail);
}

}  // namespace recovery
