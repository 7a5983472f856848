#include "testing/moto.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "json/json_writer.h"
#include "simdjson.h"
#include "testing/test_util.h"

namespace recovery {
namespace testing {

MotoServer::MotoServer(std::vector<std::string> env) {
  const int port = FreeLoopbackPort();
  const std::string port_text = std::to_string(port);
  pid_ = fork();
  if (pid_ == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlives the test
    setpgid(0, 0);
    const int null = open("/dev/null", O_RDWR);
    dup2(null, 1);
    dup2(null, 2);
    for (std::string& e : env) putenv(e.data());
    execlp("moto_server", "moto_server", "-H", "127.0.0.1", "-p", port_text.c_str(), nullptr);
    _exit(127);
  }
  if (pid_ < 0) {
    error_ = "fork failed";
    return;
  }
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (absl::Now() < deadline) {
    int status;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      error_ = "moto_server exited at start (is it installed? pip's moto[server])";
      return;
    }
    if (WaitForLoopbackPort(port, absl::Milliseconds(50))) {
      endpoint_ = absl::StrCat("http://127.0.0.1:", port);
      return;
    }
  }
  error_ = "moto_server did not listen within 60 s";
}

MotoServer::~MotoServer() {
  if (pid_ <= 0) return;
  kill(-pid_, SIGTERM);
  kill(pid_, SIGTERM);
  for (int i = 0; i < 100; ++i) {
    int status;
    if (waitpid(pid_, &status, WNOHANG) == pid_) return;
    absl::SleepFor(absl::Milliseconds(20));
  }
  kill(-pid_, SIGKILL);
  kill(pid_, SIGKILL);
  int status;
  waitpid(pid_, &status, 0);
}

SqsAdmin::SqsAdmin(std::string endpoint, std::string key, std::string secret, std::string token) {
  config_.region = "us-east-1";
  config_.endpoint = std::move(endpoint);
  config_.credentials =
      AwsCredentialSource::Fixed({std::move(key), std::move(secret), std::move(token), "the test"});
  client_ = std::make_unique<AwsJsonClient>(&config_);
}

absl::StatusOr<std::string> SqsAdmin::Call(std::string_view action, std::string body) {
  return client_->Call(action, std::move(body), absl::Seconds(60));
}

absl::StatusOr<std::string> SqsAdmin::CreateQueue(const std::string& name,
                                                  const std::map<std::string, std::string>& attributes) {
  std::string attrs;
  {
    JsonObjectWriter w(&attrs);
    for (const auto& [k, v] : attributes) w.Str(k, v);
    w.Close();
  }
  std::string body;
  JsonObjectWriter(&body).Str("QueueName", name).Raw("Attributes", attrs).Close();
  absl::StatusOr<std::string> r = Call("CreateQueue", body);
  if (!r.ok()) return r.status();
  simdjson::dom::parser parser;
  std::string_view url;
  if (parser.parse(*r).get_object()["QueueUrl"].get_string().get(url) != simdjson::SUCCESS) {
    return absl::DataLossError("CreateQueue: no QueueUrl");
  }
  return std::string(url);
}

absl::Status SqsAdmin::Send(const std::string& url, const std::vector<std::string>& bodies,
                            const std::string& group, const std::string& dedup_prefix) {
  for (size_t i = 0; i < bodies.size(); i += 10) {
    std::string body = "{\"QueueUrl\":";
    AppendJsonString(url, &body);
    body += ",\"Entries\":[";
    for (size_t j = i; j < std::min(bodies.size(), i + 10); ++j) {
      std::string e;
      JsonObjectWriter w(&e);
      w.Str("Id", absl::StrCat("e", j)).Str("MessageBody", bodies[j]);
      if (!group.empty())
        w.Str("MessageGroupId", group).Str("MessageDeduplicationId", absl::StrCat(dedup_prefix, j));
      w.Close();
      absl::StrAppend(&body, j > i ? "," : "", e);
    }
    body += "]}";
    absl::StatusOr<std::string> r = Call("SendMessageBatch", body);
    if (!r.ok()) return r.status();
    if (r->find("\"Failed\":[{") != std::string::npos) return absl::InternalError(absl::StrCat("send: ", *r));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<SqsMessage>> SqsAdmin::Receive(const std::string& url, int max,
                                                          int visibility_timeout, int wait_seconds) {
  std::string body;
  JsonObjectWriter(&body)
      .Str("QueueUrl", url)
      .Int("MaxNumberOfMessages", max)
      .Int("VisibilityTimeout", visibility_timeout)
      .Int("WaitTimeSeconds", wait_seconds)
      .Raw("MessageSystemAttributeNames", "[\"All\"]")
      .Raw("MessageAttributeNames", "[\"All\"]")
      .Close();
  absl::StatusOr<std::string> r = Call("ReceiveMessage", body);
  if (!r.ok()) return r.status();
  std::vector<SqsMessage> out;
  simdjson::dom::parser parser;
  simdjson::dom::array messages;
  if (parser.parse(*r).get_object()["Messages"].get_array().get(messages) != simdjson::SUCCESS) return out;
  for (simdjson::dom::element m : messages) {
    SqsMessage x;
    std::string_view s;
    if (m["MessageId"].get_string().get(s) == simdjson::SUCCESS) x.id = std::string(s);
    if (m["ReceiptHandle"].get_string().get(s) == simdjson::SUCCESS) x.receipt = std::string(s);
    if (m["Body"].get_string().get(s) == simdjson::SUCCESS) x.body = std::string(s);
    simdjson::dom::element a;
    if (m["Attributes"].get(a) == simdjson::SUCCESS) x.attributes_json = simdjson::minify(a);
    if (m["MessageAttributes"].get(a) == simdjson::SUCCESS) x.message_attributes_json = simdjson::minify(a);
    out.push_back(std::move(x));
  }
  return out;
}

absl::StatusOr<std::map<std::string, int64_t>> SqsAdmin::Counts(const std::string& url) {
  std::string body;
  JsonObjectWriter(&body).Str("QueueUrl", url).Raw("AttributeNames", "[\"All\"]").Close();
  absl::StatusOr<std::string> r = Call("GetQueueAttributes", body);
  if (!r.ok()) return r.status();
  std::map<std::string, int64_t> out;
  simdjson::dom::parser parser;
  simdjson::dom::object attributes;
  if (parser.parse(*r).get_object()["Attributes"].get_object().get(attributes) != simdjson::SUCCESS) {
    return absl::DataLossError("GetQueueAttributes: no Attributes");
  }
  for (const char* name : {"ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                           "ApproximateNumberOfMessagesDelayed"}) {
    std::string_view s;
    int64_t n = 0;
    if (attributes[name].get_string().get(s) == simdjson::SUCCESS) n = std::stoll(std::string(s));
    out[name] = n;
  }
  return out;
}

absl::StatusOr<std::vector<SqsMessage>> SqsAdmin::Drain(const std::string& url, int wait_seconds) {
  std::vector<SqsMessage> all;
  while (true) {
    absl::StatusOr<std::vector<SqsMessage>> got = Receive(url, 10, 30, wait_seconds);
    if (!got.ok()) return got.status();
    if (got->empty()) return all;
    std::string body = "{\"QueueUrl\":";
    AppendJsonString(url, &body);
    body += ",\"Entries\":[";
    for (size_t i = 0; i < got->size(); ++i) {
      std::string e;
      JsonObjectWriter(&e).Str("Id", absl::StrCat("d", i)).Str("ReceiptHandle", (*got)[i].receipt).Close();
      absl::StrAppend(&body, i > 0 ? "," : "", e);
    }
    body += "]}";
    absl::StatusOr<std::string> r = Call("DeleteMessageBatch", body);
    if (!r.ok()) return r.status();
    for (SqsMessage& m : *got) all.push_back(std::move(m));
  }
}

}  // namespace testing
}  // namespace recovery
