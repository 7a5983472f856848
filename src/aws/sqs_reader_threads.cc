// The SQS reader's background threads: receivers that long-poll and sort
// each message (sqs_source.cc describes the crash safety they keep), the
// workers that delete and release messages in batches, and the heartbeat
// that extends the visibility of messages still waiting for their page's
// commit.
#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/time/clock.h"
#include "aws/sqs_reader.h"
#include "json/json_writer.h"
#include "recovery/status.h"
#include "simdjson.h"
#include "util/strings.h"
#include "util/time_format.h"

namespace recovery {
namespace sqs_internal {

void SqsReader::Enqueue(Task::Kind kind, std::vector<std::pair<std::string, std::string>> entries) {
  if (kind == Task::kDelete) {
    // A message received again while its delete waits is not deleted twice:
    // the waiting delete takes the newest receipt from unconfirmed_ when it runs.
    size_t kept = 0;
    for (size_t i = 0; i < entries.size(); ++i) {
      if (!deleting_.insert(entries[i].first).second) continue;
      if (kept != i) entries[kept] = std::move(entries[i]);
      ++kept;
    }
    entries.resize(kept);
  }
  for (size_t i = 0; i < entries.size(); i += 10) {
    Task t{kind, {}};
    const size_t end = std::min(entries.size(), i + 10);
    t.entries.assign(std::make_move_iterator(entries.begin() + i),
                     std::make_move_iterator(entries.begin() + end));
    tasks_.push_back(std::move(t));
  }
}

bool SqsReader::Admit(SqsReceivedMessage& m) {
  if (auto it = held_.find(m.id); it != held_.end()) {  // ours already: its visibility lapsed
    it->second.receipt = m.receipt;
    it->second.deadline = absl::Now() + config_.visibility_timeout;
    return false;
  }
  if (auto it = unconfirmed_.find(m.id); it != unconfirmed_.end()) {
    it->second = m.receipt;  // the delete needs the newest handle
    Enqueue(Task::kDelete, {{m.id, m.receipt}});
    return false;
  }
  if (resumed_.count(m.id) > 0 || done_.Contains(m.id)) {  // delivered before: delete it, never twice
    context_.CountEvent("sqs_redelivery_skipped", 1);
    unconfirmed_[m.id] = m.receipt;
    Enqueue(Task::kDelete, {{m.id, m.receipt}});
    return false;
  }
  if (released_.count(m.id) > 0) {  // seen and left for others already
    Enqueue(Task::kRelease, {{m.id, m.receipt}});
    return false;
  }
  if (config_.window_by_sent_time && m.sent_ms >= 0) {
    const absl::Time sent = absl::FromUnixMillis(m.sent_ms);
    if (sent < shard_.start || sent >= shard_.end) {
      if (config_.outside_window == Disposal::kRelease) {
        released_.insert(m.id);
        Enqueue(Task::kRelease, {{m.id, m.receipt}});
      } else {
        unconfirmed_[m.id] = m.receipt;
        Enqueue(Task::kDelete, {{m.id, m.receipt}});
      }
      return false;
    }
  }
  held_[m.id] = Held{m.receipt, absl::Now() + config_.visibility_timeout};
  return true;
}

void SqsReader::ReceiveLoop(AwsJsonClient& client) {
  simdjson::dom::parser parser;
  std::vector<SqsReceivedMessage> messages;
  const size_t max_ready = static_cast<size_t>(std::max(config_.max_page_records * 2, config_.max_messages));
  const std::string request =
      Request(StrCat("\"MaxNumberOfMessages\":", config_.max_messages,
                     ",\"WaitTimeSeconds\":", absl::ToInt64Seconds(config_.wait_time),
                     ",\"VisibilityTimeout\":", absl::ToInt64Seconds(config_.visibility_timeout),
                     ",\"MessageSystemAttributeNames\":[\"ApproximateReceiveCount\",\"SentTimestamp\"]"
                     ",\"MessageAttributeNames\":[\"All\"]"));
  const absl::Duration timeout = config_.wait_time + absl::Seconds(15);  // longer than the wait
  absl::Duration backoff = absl::Milliseconds(100);
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      auto go = [&]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
        return stop_ || flushing_ || !permanent_.ok() || ready_.size() < max_ready;
      };
      mu_.Await(absl::Condition(&go));
      if (stop_ || flushing_ || !permanent_.ok()) return;
    }
    if (context_.Stopping()) {
      if (!SleepUnlessStopping(absl::Milliseconds(100))) return;
      continue;
    }
    const absl::Time started = absl::Now();
    absl::StatusOr<std::string> response = client.Call("ReceiveMessage", request, timeout);
    if (response.status().code() != absl::StatusCode::kCancelled) {  // not our own abort at the end
      context_.ObserveRequest(absl::Now() - started, response.ok() ? 200 : 0);
    }
    absl::Status parsed = response.ok() ? ParseSqsMessages(parser, *response, &messages) : response.status();
    {
      absl::MutexLock lock(&mu_);
      if (parsed.ok() && (stop_ || flushing_)) {  // too late to deliver: leave them for the next run
        std::vector<std::pair<std::string, std::string>> release;
        release.reserve(messages.size());
        for (SqsReceivedMessage& m : messages) release.emplace_back(m.id, m.receipt);
        if (!release.empty() && !stop_) Enqueue(Task::kRelease, std::move(release));
        return;
      }
      if (stop_ || flushing_) return;
      if (!parsed.ok()) {
        if (!IsTransient(parsed)) {
          Fail(parsed);
          return;
        }
        receive_errors_.clear();  // the latest says enough
        receive_errors_.push_back(parsed);
      } else {
        backoff = absl::Milliseconds(100);
        int admitted = 0;
        for (SqsReceivedMessage& m : messages) {
          if (Admit(m)) {
            ready_.push_back(std::move(m));
            ++admitted;
          }
        }
        consecutive_empty_ = admitted > 0 ? 0 : consecutive_empty_ + 1;
        if (messages.empty()) context_.CountEvent("sqs_empty_receives", 1);
        receive_errors_.clear();
        continue;
      }
    }
    if (!SleepUnlessStopping(backoff)) return;
    backoff = std::min(backoff * 2, absl::Seconds(5));
  }
}

absl::StatusOr<std::vector<std::string>> SqsReader::ChangeVisibility(
    AwsJsonClient& client, const std::vector<std::pair<std::string, std::string>>& entries,
    absl::Duration timeout, std::vector<SqsBatchFailure>* failed) {
  std::string rest = "\"Entries\":[";
  for (size_t i = 0; i < entries.size(); ++i) {
    if (i > 0) rest.push_back(',');
    StrAppend(&rest, "{\"Id\":\"", i, "\",\"ReceiptHandle\":");
    AppendJsonString(entries[i].second, &rest);
    StrAppend(&rest, ",\"VisibilityTimeout\":", absl::ToInt64Seconds(timeout), "}");
  }
  rest.push_back(']');
  const absl::Time started = absl::Now();
  absl::StatusOr<std::string> response =
      client.Call("ChangeMessageVisibilityBatch", Request(rest), absl::Seconds(30));
  context_.ObserveRequest(absl::Now() - started, response.ok() ? 200 : 0);
  if (!response.ok()) return response.status();
  std::vector<std::string> ok;
  if (absl::Status s = ParseSqsBatchResult(*response, &ok, failed); !s.ok()) return s;
  std::vector<std::string> ids;
  for (const std::string& i : ok) {
    size_t n;
    if (absl::SimpleAtoi(ToAbsl(i), &n) && n < entries.size()) ids.push_back(entries[n].first);
  }
  return ids;
}

absl::Status SqsReader::RunRelease(AwsJsonClient& client, Task& task) {
  std::vector<SqsBatchFailure> failed;
  absl::StatusOr<std::vector<std::string>> released =
      ChangeVisibility(client, task.entries, absl::ZeroDuration(), &failed);
  if (!released.ok()) return released.status();
  // Anything but a retryable failure (the message is no longer in flight,
  // say) leaves nothing to do: the message is visible or gone.
  std::vector<std::pair<std::string, std::string>> retry;
  for (const SqsBatchFailure& f : failed) {
    size_t n;
    if (IsRetryableEntryFailure(f) && absl::SimpleAtoi(ToAbsl(f.id), &n) && n < task.entries.size()) {
      retry.push_back(task.entries[n]);
    }
  }
  context_.CountEvent("sqs_released", released->size());
  task.failed = !retry.empty();
  task.entries = std::move(retry);
  return absl::OkStatus();
}

absl::Status SqsReader::RunTask(AwsJsonClient& client, Task& task) {
  if (task.kind == Task::kRelease) return RunRelease(client, task);
  std::string rest = "\"Entries\":[";
  for (size_t i = 0; i < task.entries.size(); ++i) {
    if (i > 0) rest.push_back(',');
    StrAppend(&rest, "{\"Id\":\"", i, "\",\"ReceiptHandle\":");
    AppendJsonString(task.entries[i].second, &rest);
    rest.push_back('}');
  }
  rest.push_back(']');
  const absl::Time started = absl::Now();
  absl::StatusOr<std::string> response = client.Call("DeleteMessageBatch", Request(rest), absl::Seconds(30));
  context_.ObserveRequest(absl::Now() - started, response.ok() ? 200 : 0);
  if (!response.ok()) return response.status();
  std::vector<std::string> ok;
  std::vector<SqsBatchFailure> failed;
  if (absl::Status s = ParseSqsBatchResult(*response, &ok, &failed); !s.ok()) return s;
  std::vector<bool> resolved(task.entries.size(), false);
  for (const std::string& i : ok) {
    size_t n;
    if (absl::SimpleAtoi(ToAbsl(i), &n) && n < resolved.size()) resolved[n] = true;
  }
  absl::Status first_permanent;
  for (const SqsBatchFailure& f : failed) {
    size_t n;
    if (!absl::SimpleAtoi(ToAbsl(f.id), &n) || n >= resolved.size()) continue;
    if (f.code == "ReceiptHandleIsInvalid" || f.code == "InvalidParameterValue") {
      // Received again since (its newest handle is used when it shows up) or
      // already gone: either way this handle can do nothing more.
      resolved[n] = true;
    } else if (!IsRetryableEntryFailure(f) && first_permanent.ok()) {
      first_permanent = absl::FailedPreconditionError(StrCat(
          "DeleteMessageBatch refused message ", task.entries[n].first, ": ", f.code, ": ", f.message));
    }
  }
  context_.CountEvent("sqs_deleted", ok.size());
  SettleDeletes(task, resolved);
  return first_permanent;
}

void SqsReader::SettleDeletes(Task& task, const std::vector<bool>& resolved) {
  std::vector<std::pair<std::string, std::string>> retry;
  task.failed = false;
  absl::MutexLock lock(&mu_);
  for (size_t n = 0; n < task.entries.size(); ++n) {
    auto& [id, receipt] = task.entries[n];
    auto it = unconfirmed_.find(id);
    if (!resolved[n]) {
      retry.push_back(task.entries[n]);
      task.failed = true;
    } else if (it != unconfirmed_.end() && it->second != receipt) {
      retry.emplace_back(id, it->second);  // received again meanwhile: delete with the newest handle
    } else {
      if (it != unconfirmed_.end()) unconfirmed_.erase(it);
      deleting_.erase(id);
      resumed_.erase(id);
      done_.Insert(id);
    }
  }
  task.entries = std::move(retry);
}

void SqsReader::TakeNewestReceipts(Task& task) {
  if (task.kind != Task::kDelete) return;
  for (auto& [id, receipt] : task.entries) {
    if (auto it = unconfirmed_.find(id); it != unconfirmed_.end()) receipt = it->second;
  }
}

void SqsReader::WorkLoop(AwsJsonClient& client) {
  absl::Duration backoff = absl::Milliseconds(50);
  while (true) {
    Task task;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return stop_ || !tasks_.empty(); };
      mu_.Await(absl::Condition(&ready));
      if (stop_) return;
      task = std::move(tasks_.front());
      tasks_.pop_front();
      TakeNewestReceipts(task);
      ++tasks_running_;
    }
    absl::Status s = RunTask(client, task);
    if (!s.ok()) task.failed = true;
    bool retry;
    {
      absl::MutexLock lock(&mu_);
      --tasks_running_;
      if (!s.ok() && !IsTransient(s)) {
        Fail(absl::Status(s.code(), StrCat(task.kind == Task::kDelete ? "deleting" : "releasing",
                                           " messages: ", s.message())));
        return;
      }
      // A failure waits its turn and backs off; a delete that only needs the
      // newest receipt goes first, before its message comes back once more.
      retry = task.failed && !task.entries.empty();
      if (retry) {
        tasks_.push_back(std::move(task));
      } else if (!task.entries.empty()) {
        tasks_.push_front(std::move(task));
      }
    }
    if (retry) {
      absl::MutexLock lock(&mu_);
      auto stopping = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return stop_; };
      if (mu_.AwaitWithTimeout(absl::Condition(&stopping), backoff)) return;
      backoff = std::min(backoff * 2, absl::Seconds(5));
    } else {
      backoff = absl::Milliseconds(50);
    }
  }
}

void SqsReader::HeartbeatLoop(AwsJsonClient& client) {
  const absl::Duration vt = config_.visibility_timeout;
  const absl::Duration tick = std::clamp(vt / 6, absl::Milliseconds(100), absl::Seconds(5));
  std::vector<SqsBatchFailure> failed;
  while (SleepUnlessStopping(tick)) {
    std::vector<std::pair<std::string, std::string>> due;
    {
      absl::MutexLock lock(&mu_);
      const absl::Time soon = absl::Now() + vt / 2;
      for (const auto& [id, held] : held_) {
        if (held.deadline < soon) due.emplace_back(id, held.receipt);
      }
    }
    for (size_t i = 0; i < due.size(); i += 10) {
      std::vector<std::pair<std::string, std::string>> chunk(due.begin() + i,
                                                             due.begin() + std::min(due.size(), i + 10));
      const absl::Time sent = absl::Now();
      absl::StatusOr<std::vector<std::string>> extended = ChangeVisibility(client, chunk, vt, &failed);
      if (!extended.ok()) {
        if (!IsTransient(extended.status())) {
          absl::MutexLock lock(&mu_);
          Fail(absl::Status(extended.status().code(),
                            StrCat("extending visibility: ", extended.status().message())));
          return;
        }
        break;  // the next tick tries again, well before the deadline
      }
      context_.CountEvent("sqs_visibility_extended", extended->size());
      absl::MutexLock lock(&mu_);
      for (const std::string& id : *extended) {
        if (auto it = held_.find(id); it != held_.end()) it->second.deadline = sent + vt;
      }
    }
  }
}

}  // namespace sqs_internal
}  // namespace recovery
