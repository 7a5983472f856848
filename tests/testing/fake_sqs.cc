#include "testing/fake_sqs.h"

#include <httplib.h>

#include <stdexcept>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "json/json_writer.h"
#include "simdjson.h"
#include "testing/loopback_server.h"
#include "testing/test_util.h"

namespace recovery {
namespace testing {
namespace {

// For fields that may be absent: their defaults stay.
void Optional(simdjson::error_code) {}

std::string Error(int* status, int code, std::string_view type, std::string_view message) {
  *status = code;
  std::string out;
  JsonObjectWriter(&out)
      .Str("__type", absl::StrCat("com.amazonaws.sqs#", absl::string_view(type.data(), type.size())))
      .Str("message", message)
      .Close();
  return out;
}

}  // namespace

FakeSqs::FakeSqs(std::string queue_name, int threads, absl::Duration latency)
    : name_(std::move(queue_name)), latency_(latency) {
  server_ = std::make_unique<httplib::Server>();
  server_->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  server_->set_tcp_nodelay(true);
  server_->Post("/", [this](const httplib::Request& req, httplib::Response& res) {
    std::string target = req.get_header_value("X-Amz-Target");
    const size_t dot = target.find('.');
    const std::string action = dot == std::string::npos ? target : target.substr(dot + 1);
    int status = 200;
    std::string body;
    if (latency_ > absl::ZeroDuration()) absl::SleepFor(latency_);
    {
      absl::MutexLock lock(&mu_);
      ++calls_[action];
      if (req.get_header_value("Content-Type") != "application/x-amz-json-1.0") {
        body = Error(&status, 400, "InvalidContentType", "expected application/x-amz-json-1.0");
      } else if (throttles_ > 0 && throttle_after_-- <= 0) {
        --throttles_;
        body = Error(&status, 400, "ThrottlingException", "Rate exceeded");
      } else {
        body = Handle(action, req.body, &status);
      }
    }
    // Long polling: an empty receive waits (without the lock) for a message or the wait to end.
    if (status == -1) {
      simdjson::dom::parser parser;
      int64_t wait = 0;
      Optional(parser.parse(req.body).get_object()["WaitTimeSeconds"].get_int64().get(wait));
      const absl::Time deadline = absl::Now() + absl::Seconds(wait);
      absl::MutexLock lock(&mu_);
      while (true) {
        status = 200;
        body = Handle("ReceiveMessage", req.body, &status);
        if (status != -1 || absl::Now() >= deadline || stopping_) break;
        mu_.AwaitWithDeadline(absl::Condition(
                                  +[](bool* b) { return *b; }, &stopping_),
                              std::min(deadline, absl::Now() + absl::Milliseconds(20)));
      }
      if (status == -1) {
        status = 200;
        body = "{}";
      }
    }
    res.status = status;
    res.set_content(body, "application/x-amz-json-1.0");
  });
  port_ = StartLoopbackServer(*server_, &thread_, "fake SQS");
}

FakeSqs::~FakeSqs() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  server_->stop();
  thread_.join();
}

std::string FakeSqs::endpoint() const { return absl::StrCat("http://127.0.0.1:", port_); }
std::string FakeSqs::queue_url() const { return absl::StrCat(endpoint(), "/123456789012/", name_); }

void FakeSqs::Send(const std::string& body) {
  absl::MutexLock lock(&mu_);
  const int64_t seq = next_id_++;
  messages_[seq] = {absl::StrCat("msg-", seq), body, "",
                    absl::InfinitePast(),      0,    absl::ToUnixMillis(absl::Now())};
}

size_t FakeSqs::size() const {
  absl::MutexLock lock(&mu_);
  return messages_.size();
}

bool FakeSqs::Holds(const std::string& body) const {
  absl::MutexLock lock(&mu_);
  for (const auto& [seq, m] : messages_) {
    if (m.body == body) return true;
  }
  return false;
}

std::vector<std::string> FakeSqs::sent() const {
  absl::MutexLock lock(&mu_);
  return sent_;
}

std::map<std::string, int> FakeSqs::calls() const {
  absl::MutexLock lock(&mu_);
  return calls_;
}

void FakeSqs::FailEntries(int count, std::string code) {
  absl::MutexLock lock(&mu_);
  entry_faults_ = count;
  entry_fault_code_ = std::move(code);
}

void FakeSqs::Throttle(int count, int after) {
  absl::MutexLock lock(&mu_);
  throttles_ = count;
  throttle_after_ = after;
}

bool FakeSqs::TakeEntryFault(std::string* code) {
  if (entry_faults_ <= 0) return false;
  --entry_faults_;
  *code = entry_fault_code_;
  return true;
}

// Answers one action; status -1 asks the caller to wait (an empty long poll).
std::string FakeSqs::Handle(const std::string& action, const std::string& body, int* status) {
  simdjson::dom::parser parser;
  simdjson::dom::object req;
  if (parser.parse(body).get_object().get(req) != simdjson::SUCCESS) {
    return Error(status, 400, "SerializationException", "body is not a JSON object");
  }
  std::string_view url;
  if (action == "GetQueueUrl") {
    std::string_view name;
    if (req["QueueName"].get_string().get(name) != simdjson::SUCCESS || name != name_) {
      return Error(status, 400, "QueueDoesNotExist", "The specified queue does not exist.");
    }
    std::string out;
    JsonObjectWriter(&out).Str("QueueUrl", queue_url()).Close();
    return out;
  }
  if (req["QueueUrl"].get_string().get(url) != simdjson::SUCCESS || url != queue_url()) {
    return Error(status, 400, "QueueDoesNotExist", "The specified queue does not exist.");
  }
  const absl::Time now = absl::Now();
  if (action == "ReceiveMessage") {
    int64_t max = 1, visibility = 30;
    Optional(req["MaxNumberOfMessages"].get_int64().get(max));
    Optional(req["VisibilityTimeout"].get_int64().get(visibility));
    std::string out = "{\"Messages\":[";
    int n = 0;
    for (auto& [seq, m] : messages_) {
      if (n == max) break;
      if (m.visible_at > now) continue;
      m.visible_at = now + absl::Seconds(visibility);
      ++m.receive_count;
      m.receipt = absl::StrCat(m.id, "#", m.receive_count);
      std::string one;
      JsonObjectWriter w(&one);
      w.Str("MessageId", m.id).Str("ReceiptHandle", m.receipt).Str("Body", m.body);
      std::string attributes;
      JsonObjectWriter(&attributes)
          .Str("ApproximateReceiveCount", absl::StrCat(m.receive_count))
          .Str("SentTimestamp", absl::StrCat(m.sent_ms))
          .Close();
      w.Raw("Attributes", attributes).Close();
      absl::StrAppend(&out, n++ > 0 ? "," : "", one);
    }
    if (n == 0) {
      *status = -1;
      return "";
    }
    return out + "]}";
  }
  if (action == "GetQueueAttributes") {
    int64_t visible = 0, invisible = 0;
    for (const auto& [seq, m] : messages_) (m.visible_at > now ? invisible : visible)++;
    std::string attributes, out;
    JsonObjectWriter(&attributes)
        .Str("ApproximateNumberOfMessages", absl::StrCat(visible))
        .Str("ApproximateNumberOfMessagesNotVisible", absl::StrCat(invisible))
        .Str("ApproximateNumberOfMessagesDelayed", "0")
        .Close();
    JsonObjectWriter(&out).Raw("Attributes", attributes).Close();
    return out;
  }
  simdjson::dom::array entries;
  if (req["Entries"].get_array().get(entries) != simdjson::SUCCESS) {
    return Error(status, 400, "MissingParameter", "Entries is required");
  }
  std::string ok = "[", failed = "[";
  auto succeed = [&](std::string_view id, const std::string& extra) {
    std::string e;
    JsonObjectWriter w(&e);
    w.Str("Id", id);
    if (!extra.empty()) w.Raw("MessageId", extra);
    w.Close();
    absl::StrAppend(&ok, ok.size() > 1 ? "," : "", e);
  };
  auto fail = [&](std::string_view id, std::string_view code, bool sender) {
    std::string e;
    JsonObjectWriter(&e)
        .Str("Id", id)
        .Str("Code", code)
        .Str("Message", code)
        .Bool("SenderFault", sender)
        .Close();
    absl::StrAppend(&failed, failed.size() > 1 ? "," : "", e);
  };
  for (simdjson::dom::element e : entries) {
    std::string_view id, receipt, message_body;
    Optional(e["Id"].get_string().get(id));
    std::string code;
    if (TakeEntryFault(&code)) {
      fail(id, code, false);
      continue;
    }
    if (action == "SendMessageBatch") {
      Optional(e["MessageBody"].get_string().get(message_body));
      sent_.emplace_back(message_body);
      const int64_t seq = next_id_++;
      messages_[seq] = {absl::StrCat("msg-", seq), std::string(message_body), "", absl::InfinitePast(), 0,
                        absl::ToUnixMillis(now)};
      std::string quoted;
      AppendJsonString(messages_[seq].id, &quoted);
      succeed(id, quoted);
      continue;
    }
    Optional(e["ReceiptHandle"].get_string().get(receipt));
    // Receipts are "msg-<seq>#<receive count>": the sequence number finds the message.
    int64_t seq = -1;
    const size_t hash = receipt.find('#');
    if (receipt.rfind("msg-", 0) == 0 && hash != std::string_view::npos) {
      (void)absl::SimpleAtoi(absl::string_view(receipt.data() + 4, hash - 4), &seq);
    }
    auto found = messages_.find(seq);
    if (found == messages_.end() || found->second.receipt != receipt) {
      fail(id, "ReceiptHandleIsInvalid", true);
      continue;
    }
    if (action == "DeleteMessageBatch") {
      messages_.erase(found);
    } else if (action == "ChangeMessageVisibilityBatch") {
      int64_t visibility = 0;
      Optional(e["VisibilityTimeout"].get_int64().get(visibility));
      found->second.visible_at = now + absl::Seconds(visibility);
    } else {
      return Error(status, 400, "InvalidAction", absl::StrCat("unknown action ", action));
    }
    succeed(id, "");
  }
  return absl::StrCat("{\"Successful\":", ok, "],\"Failed\":", failed, "]}");
}

}  // namespace testing
}  // namespace recovery
