#include "testing/fake_sqs.h"

#include <httplib.h>

#include <algorithm>
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
    : name_(std::move(queue_name)),
      fifo_(name_.size() > 5 && name_.compare(name_.size() - 5, 5, ".fifo") == 0),
      latency_(latency) {
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

void FakeSqs::Send(const std::string& body, const std::string& group) {
  if (fifo_ && group.empty()) throw std::invalid_argument("FakeSqs::Send: a FIFO queue needs a group");
  absl::MutexLock lock(&mu_);
  Enqueue(body, fifo_ ? group : "", absl::Now());
}

void FakeSqs::Enqueue(std::string body, std::string group, absl::Time now) {
  const int64_t seq = next_id_++;
  Message& m = messages_[seq];
  m.seq = seq;
  m.id = absl::StrCat("msg-", seq);
  m.body = std::move(body);
  m.group = std::move(group);
  m.sent_ms = absl::ToUnixMillis(now);
  Attach(m);
}

void FakeSqs::Attach(const Message& m) {
  if (m.in_flight) in_flight_.emplace(m.visible_at, m.seq);
  if (!fifo_) {
    if (!m.in_flight) ready_.insert(m.seq);
    return;
  }
  Group& g = groups_[m.group];
  if (g.in_flight == 0 && !g.seqs.empty()) ready_groups_.erase({*g.seqs.begin(), m.group});
  g.seqs.insert(m.seq);
  g.in_flight += m.in_flight;
  if (g.in_flight == 0) ready_groups_.emplace(*g.seqs.begin(), m.group);
}

void FakeSqs::Detach(const Message& m) {
  if (m.in_flight) in_flight_.erase({m.visible_at, m.seq});
  if (!fifo_) {
    ready_.erase(m.seq);
    return;
  }
  auto it = groups_.find(m.group);
  if (it == groups_.end()) return;
  Group& g = it->second;
  if (g.in_flight == 0 && !g.seqs.empty()) ready_groups_.erase({*g.seqs.begin(), m.group});
  g.seqs.erase(m.seq);
  g.in_flight -= m.in_flight;
  if (g.seqs.empty()) {
    groups_.erase(it);
  } else if (g.in_flight == 0) {
    ready_groups_.emplace(*g.seqs.begin(), m.group);
  }
}

void FakeSqs::Expire(absl::Time now) {
  while (!in_flight_.empty() && in_flight_.begin()->first <= now) {
    Message& m = messages_.at(in_flight_.begin()->second);
    Detach(m);
    m.in_flight = false;
    Attach(m);
  }
  while (!dedup_order_.empty() && dedup_order_.front().first + absl::Minutes(5) <= now) {
    auto it = dedup_.find(dedup_order_.front().second);
    if (it != dedup_.end() && it->second == dedup_order_.front().first) dedup_.erase(it);
    dedup_order_.pop_front();
  }
}

FakeSqs::Message* FakeSqs::FindByReceipt(std::string_view receipt, bool* stale) {
  // Receipts are "msg-<seq>#<receive count>": the sequence number finds the message.
  int64_t seq = -1;
  const size_t hash = receipt.find('#');
  if (receipt.rfind("msg-", 0) == 0 && hash != std::string_view::npos) {
    (void)absl::SimpleAtoi(absl::string_view(receipt.data() + 4, hash - 4), &seq);
  }
  auto found = messages_.find(seq);
  if (found == messages_.end()) return nullptr;
  *stale = found->second.receipt != receipt;
  return &found->second;
}

FakeSqs::Counts FakeSqs::counts() const {
  absl::MutexLock lock(&mu_);
  Counts c = counts_;
  const absl::Time now = absl::Now();
  for (const auto& [at, seq] : in_flight_) c.in_flight += at > now;
  c.visible = static_cast<int64_t>(messages_.size()) - c.in_flight;
  return c;
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

void FakeSqs::FailDeletesUntilReceived(int times) {
  absl::MutexLock lock(&mu_);
  fail_deletes_until_ = times;
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

std::string FakeSqs::Receive(int64_t max, int64_t visibility, absl::Time now, int* status) {
  // The messages to hand out, in order: a standard queue's oldest visible
  // ones; a FIFO queue's groups in the order of their first message, as many
  // of each group as fit.
  std::vector<int64_t> taken;
  if (!fifo_) {
    for (auto it = ready_.begin(); it != ready_.end() && static_cast<int64_t>(taken.size()) < max; ++it) {
      taken.push_back(*it);
    }
  } else {
    for (auto it = ready_groups_.begin();
         it != ready_groups_.end() && static_cast<int64_t>(taken.size()) < max; ++it) {
      const Group& g = groups_.at(it->second);
      for (auto s = g.seqs.begin(); s != g.seqs.end() && static_cast<int64_t>(taken.size()) < max; ++s) {
        taken.push_back(*s);
      }
    }
  }
  if (taken.empty()) {
    *status = -1;
    return "";
  }
  std::string out = "{\"Messages\":[";
  for (size_t i = 0; i < taken.size(); ++i) {
    Message& m = messages_.at(taken[i]);
    Detach(m);
    m.in_flight = visibility > 0;  // a zero timeout leaves it visible
    m.visible_at = now + absl::Seconds(visibility);
    ++m.receive_count;
    m.receipt = absl::StrCat(m.id, "#", m.receive_count);
    Attach(m);
    ++counts_.received;
    counts_.redelivered += m.receive_count > 1;
    counts_.max_receive_count = std::max(counts_.max_receive_count, m.receive_count);
    std::string attributes;
    JsonObjectWriter a(&attributes);
    a.Str("ApproximateReceiveCount", absl::StrCat(m.receive_count))
        .Str("SentTimestamp", absl::StrCat(m.sent_ms));
    if (fifo_) {
      a.Str("MessageGroupId", m.group).Str("SequenceNumber", absl::StrCat(100000000000000000LL + m.seq));
    }
    a.Close();
    std::string one;
    JsonObjectWriter(&one)
        .Str("MessageId", m.id)
        .Str("ReceiptHandle", m.receipt)
        .Str("Body", m.body)
        .Raw("Attributes", attributes)
        .Close();
    absl::StrAppend(&out, i > 0 ? "," : "", one);
  }
  return out + "]}";
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
  Expire(now);
  if (action == "ReceiveMessage") {
    int64_t max = 1, visibility = 30;
    Optional(req["MaxNumberOfMessages"].get_int64().get(max));
    Optional(req["VisibilityTimeout"].get_int64().get(visibility));
    if (max < 1 || max > 10) {
      return Error(status, 400, "InvalidParameterValue", "MaxNumberOfMessages must be between 1 and 10");
    }
    return Receive(max, visibility, now, status);
  }
  if (action == "GetQueueAttributes") {
    const int64_t invisible = static_cast<int64_t>(in_flight_.size());
    std::string attributes, out;
    JsonObjectWriter a(&attributes);
    a.Str("ApproximateNumberOfMessages", absl::StrCat(static_cast<int64_t>(messages_.size()) - invisible))
        .Str("ApproximateNumberOfMessagesNotVisible", absl::StrCat(invisible))
        .Str("ApproximateNumberOfMessagesDelayed", "0")
        .Str("MessageRetentionPeriod", "345600");  // SQS's default: 4 days
    if (fifo_) a.Str("FifoQueue", "true");
    a.Close();
    JsonObjectWriter(&out).Raw("Attributes", attributes).Close();
    return out;
  }
  if (action != "SendMessageBatch" && action != "DeleteMessageBatch" &&
      action != "ChangeMessageVisibilityBatch") {
    return Error(status, 400, "InvalidAction", absl::StrCat("unknown action ", action));
  }
  simdjson::dom::array entries;
  if (req["Entries"].get_array().get(entries) != simdjson::SUCCESS) {
    return Error(status, 400, "MissingParameter", "Entries is required");
  }
  if (action == "SendMessageBatch" && fifo_) {
    for (simdjson::dom::element e : entries) {
      std::string_view group;
      if (e["MessageGroupId"].get_string().get(group) != simdjson::SUCCESS || group.empty()) {
        return Error(status, 400, "MissingParameter",
                     "The request must contain the parameter MessageGroupId.");
      }
    }
  }
  std::string ok = "[", failed = "[";
  auto succeed = [&](std::string_view id, const std::string& extra) {
    std::string e;
    JsonObjectWriter w(&e);
    w.Str("Id", id);
    if (!extra.empty()) w.Str("MessageId", extra);
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
    std::string_view id, receipt;
    Optional(e["Id"].get_string().get(id));
    std::string code;
    if (TakeEntryFault(&code)) {
      fail(id, code, false);
      continue;
    }
    if (action == "SendMessageBatch") {
      std::string_view message_body, group, dedup;
      Optional(e["MessageBody"].get_string().get(message_body));
      Optional(e["MessageGroupId"].get_string().get(group));
      Optional(e["MessageDeduplicationId"].get_string().get(dedup));
      sent_.emplace_back(message_body);
      if (fifo_) {
        // Content-based deduplication when no id is given.
        const std::string key =
            dedup.empty() ? absl::StrCat("body:", absl::string_view(message_body.data(), message_body.size()))
                          : std::string(dedup);
        if (!dedup_.emplace(key, now).second) {
          succeed(id, absl::StrCat("msg-dup-", next_id_));  // accepted, not enqueued
          continue;
        }
        dedup_order_.emplace_back(now, key);
      }
      Enqueue(std::string(message_body), fifo_ ? std::string(group) : "", now);
      succeed(id, absl::StrCat("msg-", next_id_ - 1));
      continue;
    }
    Optional(e["ReceiptHandle"].get_string().get(receipt));
    bool stale = false;
    Message* m = FindByReceipt(receipt, &stale);
    if (action == "DeleteMessageBatch") {
      ++counts_.delete_entries;
      if (m != nullptr && m->receive_count < fail_deletes_until_) {
        ++counts_.failed_deletes;
        fail(id, "InternalError", false);
        continue;
      }
      // SQS accepts a deletion by an older receipt (the message was received
      // again since) and may or may not delete: this fake never does, the
      // harder case for a consumer. A deleted message's receipt is accepted too.
      if (m == nullptr && receipt.rfind("msg-", 0) != 0) {
        fail(id, "ReceiptHandleIsInvalid", true);
        continue;
      }
      if (m != nullptr && !stale) {
        Detach(*m);
        messages_.erase(m->seq);
        ++counts_.deleted;
      } else if (m != nullptr) {
        ++counts_.stale_deletes;
      }
    } else if (m == nullptr || stale) {
      fail(id, "ReceiptHandleIsInvalid", true);
      continue;
    } else {  // ChangeMessageVisibilityBatch
      if (!m->in_flight) {
        fail(id, "AWS.SimpleQueueService.MessageNotInflight", true);
        continue;
      }
      int64_t visibility = 0;
      Optional(e["VisibilityTimeout"].get_int64().get(visibility));
      Detach(*m);
      m->in_flight = visibility > 0;
      m->visible_at = now + absl::Seconds(visibility);
      Attach(*m);
    }
    succeed(id, "");
  }
  return absl::StrCat("{\"Successful\":", ok, "],\"Failed\":", failed, "]}");
}

}  // namespace testing
}  // namespace recovery
