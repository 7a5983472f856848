// The SQS source: drains a queue (one that came back, or a dead-letter queue
// being replayed). Receivers long-poll in parallel; a message is deleted only
// after the page that carried it was acknowledged by the sink and
// checkpointed, and its visibility is extended while it waits.
//
// Crash safety. A message received but not yet committed reappears after its
// visibility timeout and is delivered again, flagged (ApproximateReceiveCount
// > 1). A message committed but not yet deleted is the other gap: its id is
// in the checkpoint's cursor (the ids whose deletion is not confirmed), so
// after a crash it is deleted on sight instead of delivered twice.
#include <algorithm>
#include <deque>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "absl/strings/numbers.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "aws/sqs.h"
#include "json/json_writer.h"
#include "recovery/status.h"
#include "simdjson.h"
#include "util/strings.h"
#include "util/time_format.h"

namespace recovery {

namespace {

using Disposal = SqsDisposal;

struct Config {
  AwsConfig aws;
  std::vector<std::string> warnings;
  int receivers = 4;
  int max_messages = 10;                         // per ReceiveMessage, 1..10
  int max_page_records = 100;                    // per page handed to the engine
  absl::Duration wait_time = absl::Seconds(20);  // long polling, 0..20 s
  absl::Duration visibility_timeout = absl::Seconds(60);
  bool heartbeat = true;
  int max_receive_count = 5;  // above it a message is poison; 0: no limit
  Disposal on_poison = Disposal::kDelete;
  bool window_by_sent_time = false;  // else the mapper's event time decides
  Disposal outside_window = Disposal::kRelease;
  int drain_after_empty_receives = 3;
  bool wait_for_in_flight = true;
  std::string request_prefix;  // {"QueueUrl":"...", (built once the URL is known)
};

// Ids seen recently, bounded: the oldest are forgotten first.
class RecentIds {
 public:
  explicit RecentIds(size_t capacity) : capacity_(capacity) {}
  void Insert(const std::string& id) {
    if (!set_.insert(id).second) return;
    order_.push_back(id);
    if (order_.size() > capacity_) {
      set_.erase(order_.front());
      order_.pop_front();
    }
  }
  bool Contains(const std::string& id) const { return set_.count(id) > 0; }

 private:
  size_t capacity_;
  std::unordered_set<std::string> set_;
  std::deque<std::string> order_;
};

class SqsSource;

class SqsReader : public ShardReader {
 public:
  SqsReader(SqsSource* source, Shard shard, SqsCursor resumed, const ShardContext& context);
  ~SqsReader() override;
  absl::Status Start();
  absl::Status Next(Page* page) override;
  absl::Status Commit(const Page& page, absl::Span<const RecordOutcome> outcomes) override;

 private:
  struct Held {
    std::string receipt;
    absl::Time deadline;  // its visibility ends
  };
  struct Task {
    enum Kind { kDelete, kRelease } kind;
    std::vector<std::pair<std::string, std::string>> entries;  // id, receipt
  };

  void ReceiveLoop(AwsJsonClient& client);
  void WorkLoop(AwsJsonClient& client);
  void HeartbeatLoop(AwsJsonClient& client);
  // Sorts one received message; returns true when it goes into a page.
  bool Admit(SqsReceivedMessage& m) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Enqueue(Task::Kind kind, std::vector<std::pair<std::string, std::string>> entries)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Runs one delete or release batch (≤ 10 entries), leaving in `task` the
  // entries to try again.
  absl::Status RunTask(AwsJsonClient& client, Task& task);
  // Changes the visibility of up to 10 messages; the ids that succeeded.
  absl::StatusOr<std::vector<std::string>> ChangeVisibility(
      AwsJsonClient& client, const std::vector<std::pair<std::string, std::string>>& entries,
      absl::Duration timeout, std::vector<SqsBatchFailure>* failed);
  absl::StatusOr<bool> Drained(AwsJsonClient& client);
  void WarnIfBeyondRetention();
  // Records the first failure no retry can fix; every call fails with it from then on.
  void Fail(absl::Status s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::string Request(std::string_view rest) const;
  bool SleepUnlessStopping(absl::Duration d);

  SqsSource* const source_;
  const Config& config_;
  const Shard shard_;
  const ShardContext& context_;
  std::string queue_url_;
  AwsJsonClient client_;  // the engine's thread: Next() and Commit()

  absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  bool flushing_ ABSL_GUARDED_BY(mu_) = false;   // stop once the work queue is empty
  absl::Status permanent_ ABSL_GUARDED_BY(mu_);  // a failure no retry can fix
  std::deque<absl::Status> receive_errors_ ABSL_GUARDED_BY(mu_);
  std::deque<SqsReceivedMessage> ready_ ABSL_GUARDED_BY(mu_);        // received, not yet in a page
  std::unordered_map<std::string, Held> held_ ABSL_GUARDED_BY(mu_);  // received, not yet resolved
  std::unordered_map<std::string, std::string> unconfirmed_ ABSL_GUARDED_BY(mu_);  // id -> receipt
  std::unordered_set<std::string> resumed_ ABSL_GUARDED_BY(mu_);  // unconfirmed at the last run's end
  absl::Time resumed_visible_by_ ABSL_GUARDED_BY(mu_);
  RecentIds done_ ABSL_GUARDED_BY(mu_){200000};                    // deleted in this run
  std::unordered_set<std::string> released_ ABSL_GUARDED_BY(mu_);  // left for others
  std::deque<Task> tasks_ ABSL_GUARDED_BY(mu_);
  int tasks_running_ ABSL_GUARDED_BY(mu_) = 0;
  int consecutive_empty_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::unique_ptr<AwsJsonClient>> clients_;  // one per background thread
  std::vector<std::thread> threads_;
};

class SqsSource : public Source {
 public:
  SqsSource(Config config, std::string queue_url, std::string queue_name)
      : config_(std::move(config)), queue_(std::move(queue_url), std::move(queue_name)) {}

  bool plans_one_shard() const override { return true; }
  std::vector<std::string> ConfigWarnings() const override { return config_.warnings; }

  absl::StatusOr<std::unique_ptr<ShardReader>> Open(const Shard& shard, std::string_view cursor,
                                                    const ShardContext& context) override {
    absl::StatusOr<SqsCursor> resumed = DecodeSqsCursor(cursor);
    if (!resumed.ok()) return resumed.status();
    auto reader = std::make_unique<SqsReader>(this, shard, *std::move(resumed), context);
    if (absl::Status s = reader->Start(); !s.ok()) return s;
    return std::unique_ptr<ShardReader>(std::move(reader));
  }

  const Config& config() const { return config_; }
  SqsQueue& queue() { return queue_; }
  void set_outside_window(Disposal d) { config_.outside_window = d; }

 private:
  Config config_;
  SqsQueue queue_;
};

SqsReader::SqsReader(SqsSource* source, Shard shard, SqsCursor resumed, const ShardContext& context)
    : source_(source),
      config_(source->config()),
      shard_(std::move(shard)),
      context_(context),
      client_(&source->config().aws) {
  absl::MutexLock lock(&mu_);
  resumed_.insert(resumed.unconfirmed.begin(), resumed.unconfirmed.end());
  resumed_visible_by_ = resumed.visible_by;
}

absl::Status SqsReader::Start() {
  absl::StatusOr<std::string> url = source_->queue().Url(client_);
  if (!url.ok()) return url.status();
  queue_url_ = *url;
  WarnIfBeyondRetention();
  const int workers = std::max(2, std::min(config_.receivers, 8));
  auto add = [this](auto loop) {
    clients_.push_back(std::make_unique<AwsJsonClient>(&config_.aws));
    threads_.emplace_back([this, loop, c = clients_.back().get()] { (this->*loop)(*c); });
  };
  for (int i = 0; i < config_.receivers; ++i) add(&SqsReader::ReceiveLoop);
  for (int i = 0; i < workers; ++i) add(&SqsReader::WorkLoop);
  if (config_.heartbeat) add(&SqsReader::HeartbeatLoop);
  return absl::OkStatus();
}

SqsReader::~SqsReader() {
  {
    // Messages received but not committed are released for the next run
    // rather than left invisible; committed ones are deleted before we go.
    absl::MutexLock lock(&mu_);
    std::vector<std::pair<std::string, std::string>> release;
    for (auto& [id, held] : held_) release.emplace_back(id, held.receipt);
    held_.clear();
    ready_.clear();
    if (!release.empty()) Enqueue(Task::kRelease, std::move(release));
    flushing_ = true;  // receivers stop now, workers once the queue is empty
    auto idle = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
      return (tasks_.empty() && tasks_running_ == 0) || !permanent_.ok();
    };
    mu_.AwaitWithTimeout(absl::Condition(&idle), absl::Seconds(30));
    stop_ = true;
  }
  for (auto& c : clients_) c->Abort();  // a long poll would hold us up to 20 s
  for (std::thread& t : threads_) t.join();
}

std::string SqsReader::Request(std::string_view rest) const {
  std::string body = "{\"QueueUrl\":";
  AppendJsonString(queue_url_, &body);
  if (!rest.empty()) StrAppend(&body, ",", rest);
  body.push_back('}');
  return body;
}

bool SqsReader::SleepUnlessStopping(absl::Duration d) {
  absl::MutexLock lock(&mu_);
  auto stopping = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return stop_ || flushing_; };
  return !mu_.AwaitWithTimeout(absl::Condition(&stopping), d);
}

void SqsReader::Fail(absl::Status s) {
  if (permanent_.ok()) permanent_ = std::move(s);
}

void SqsReader::Enqueue(Task::Kind kind, std::vector<std::pair<std::string, std::string>> entries) {
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

absl::Status SqsReader::RunTask(AwsJsonClient& client, Task& task) {
  std::vector<std::string> ok;
  std::vector<SqsBatchFailure> failed;
  if (task.kind == Task::kRelease) {
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
    task.entries = std::move(retry);
    return absl::OkStatus();
  }
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
  std::vector<std::pair<std::string, std::string>> retry;
  absl::MutexLock lock(&mu_);
  for (size_t n = 0; n < task.entries.size(); ++n) {
    auto& [id, receipt] = task.entries[n];
    auto it = unconfirmed_.find(id);
    if (!resolved[n]) {
      retry.push_back(task.entries[n]);
    } else if (it != unconfirmed_.end() && it->second != receipt) {
      retry.emplace_back(id, it->second);  // received again meanwhile: delete with the newest handle
    } else {
      if (it != unconfirmed_.end()) unconfirmed_.erase(it);
      resumed_.erase(id);
      done_.Insert(id);
    }
  }
  task.entries = std::move(retry);
  return first_permanent;
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
      ++tasks_running_;
    }
    absl::Status s = RunTask(client, task);
    bool retry;
    {
      absl::MutexLock lock(&mu_);
      --tasks_running_;
      if (!s.ok() && !IsTransient(s)) {
        Fail(absl::Status(s.code(), StrCat(task.kind == Task::kDelete ? "deleting" : "releasing",
                                           " messages: ", s.message())));
        return;
      }
      retry = !task.entries.empty();
      if (retry) tasks_.push_back(std::move(task));
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

// A queue keeps a message for its MessageRetentionPeriod (4 days unless set):
// the part of the window older than that may be gone from it, and only the
// vendor's API can still have it. Said once per run; a queue that does not
// answer the question is not a reason to stop.
void SqsReader::WarnIfBeyondRetention() {
  absl::StatusOr<std::string> response = client_.Call(
      "GetQueueAttributes", Request("\"AttributeNames\":[\"MessageRetentionPeriod\"]"), absl::Seconds(30));
  std::string fields;
  int64_t seconds = 0;
  simdjson::dom::parser parser;
  std::string_view text;
  if (!response.ok() ||
      parser.parse(*response)["Attributes"]["MessageRetentionPeriod"].get_string().get(text) !=
          simdjson::SUCCESS ||
      !absl::SimpleAtoi(ToAbsl(text), &seconds) || seconds <= 0) {
    JsonObjectWriter(&fields)
        .Str("shard", shard_.id)
        .Str("error",
             response.ok() ? "no MessageRetentionPeriod in the answer" : response.status().ToString())
        .Close();
    context_.Warn(
        "cannot read the queue's MessageRetentionPeriod: whether the window is older than what the "
        "queue keeps is unknown",
        fields);
    return;
  }
  const absl::Time kept_since = absl::Now() - absl::Seconds(seconds);
  if (shard_.start >= kept_since) return;
  JsonObjectWriter(&fields)
      .Str("shard", shard_.id)
      .Str("window_start", FormatRfc3339(shard_.start))
      .Str("kept_since", FormatRfc3339(kept_since))
      .Int("retention_s", seconds)
      .Close();
  context_.Warn(StrCat("the queue keeps messages for ", absl::FormatDuration(absl::Seconds(seconds)),
                       ": the part of the window from ", FormatRfc3339(shard_.start), " to ",
                       FormatRfc3339(std::min(kept_since, shard_.end)),
                       " may have expired from it; recover that part from the vendor's API "
                       "(docs/reconcile.md, \"A queue that kept only part of the gap\")"),
                fields);
  context_.CountEvent("sqs_window_beyond_retention", 1);
}

absl::StatusOr<bool> SqsReader::Drained(AwsJsonClient& client) {
  const absl::Time started = absl::Now();
  absl::StatusOr<std::string> response = client.Call(
      "GetQueueAttributes",
      Request("\"AttributeNames\":[\"ApproximateNumberOfMessages\",\"ApproximateNumberOfMessagesNotVisible\","
              "\"ApproximateNumberOfMessagesDelayed\"]"),
      absl::Seconds(30));
  context_.ObserveRequest(absl::Now() - started, response.ok() ? 200 : 0);
  if (!response.ok()) return response.status();
  simdjson::dom::parser parser;
  simdjson::dom::object attributes;
  if (parser.parse(*response).get_object()["Attributes"].get_object().get(attributes) != simdjson::SUCCESS) {
    return absl::DataLossError("GetQueueAttributes: no Attributes in the answer");
  }
  auto count = [&](const char* name) -> int64_t {
    std::string_view s;
    int64_t n = 0;
    if (attributes[name].get_string().get(s) == simdjson::SUCCESS) (void)absl::SimpleAtoi(ToAbsl(s), &n);
    return n;
  };
  const int64_t visible = count("ApproximateNumberOfMessages");
  const int64_t invisible = count("ApproximateNumberOfMessagesNotVisible");
  const int64_t delayed = count("ApproximateNumberOfMessagesDelayed");
  absl::MutexLock lock(&mu_);
  if (visible > static_cast<int64_t>(released_.size())) return false;  // more arrived, or an unlucky sample
  if (config_.wait_for_in_flight) return invisible == 0 && delayed == 0;
  return resumed_.empty() || absl::Now() >= resumed_visible_by_;
}

absl::Status SqsReader::Next(Page* page) {
  absl::MutexLock lock(&mu_);
  while (true) {
    if (!permanent_.ok()) return permanent_;
    if (!ready_.empty()) break;
    if (!receive_errors_.empty()) {
      absl::Status s = std::move(receive_errors_.front());
      receive_errors_.pop_front();
      return s;
    }
    if (consecutive_empty_ >= config_.drain_after_empty_receives && tasks_.empty() && tasks_running_ == 0 &&
        unconfirmed_.empty()) {
      consecutive_empty_ = 0;  // decided now; in follow mode the count starts again
      mu_.Unlock();
      absl::StatusOr<bool> drained = Drained(client_);
      mu_.Lock();
      if (!drained.ok()) return drained.status();
      if (*drained && ready_.empty()) {
        page->exhausted = true;
        if (config_.wait_for_in_flight || absl::Now() >= resumed_visible_by_) resumed_.clear();
        SqsCursor cursor;
        cursor.unconfirmed.assign(resumed_.begin(), resumed_.end());
        cursor.visible_by = resumed_visible_by_;
        page->next_cursor = EncodeSqsCursor(cursor);
        return absl::OkStatus();
      }
      continue;
    }
    if (context_.Stopping()) return absl::CancelledError("stopped while waiting for messages");
    auto wake = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
      return !permanent_.ok() || !ready_.empty() || !receive_errors_.empty() ||
             consecutive_empty_ >= config_.drain_after_empty_receives;
    };
    mu_.AwaitWithTimeout(absl::Condition(&wake), absl::Milliseconds(200));
    if (consecutive_empty_ >= config_.drain_after_empty_receives && ready_.empty() &&
        (!tasks_.empty() || tasks_running_ > 0 || !unconfirmed_.empty())) {
      // Deletes still running: let them finish before judging the queue drained.
      auto settled = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
        return !permanent_.ok() || !ready_.empty() || (tasks_.empty() && tasks_running_ == 0);
      };
      mu_.AwaitWithTimeout(absl::Condition(&settled), absl::Milliseconds(200));
    }
  }
  const absl::Time now = absl::Now();
  SqsCursor cursor;
  cursor.unconfirmed.reserve(unconfirmed_.size() + resumed_.size() + config_.max_page_records);
  for (const auto& [id, receipt] : unconfirmed_) cursor.unconfirmed.push_back(id);
  for (const std::string& id : resumed_) {
    if (unconfirmed_.count(id) == 0) cursor.unconfirmed.push_back(id);
  }
  cursor.visible_by = std::max(resumed_visible_by_, now + config_.visibility_timeout);
  for (int n = 0; n < config_.max_page_records && !ready_.empty(); ++n) {
    SqsReceivedMessage& m = ready_.front();
    page->bytes += m.body.size();
    cursor.unconfirmed.push_back(m.id);
    if (config_.max_receive_count > 0 && m.receive_count > config_.max_receive_count) {
      context_.CountEvent("sqs_poison", 1);
      page->records.AddError(m.body,
                             StrCat("poison message: received ", m.receive_count,
                                    " times, more than max_receive_count ", config_.max_receive_count),
                             m.id);
    } else {
      page->records.Add(m.body, m.receive_count > 1, m.id);
    }
    ready_.pop_front();
  }
  page->next_cursor = EncodeSqsCursor(cursor);
  return absl::OkStatus();
}

absl::Status SqsReader::Commit(const Page& page, absl::Span<const RecordOutcome> outcomes) {
  absl::MutexLock lock(&mu_);
  std::vector<std::pair<std::string, std::string>> remove, release;
  const auto& records = page.records.records();
  for (size_t i = 0; i < records.size(); ++i) {
    const std::string id(records[i].id);
    auto it = held_.find(id);
    if (it == held_.end()) continue;
    Disposal d = Disposal::kDelete;
    if (i < outcomes.size()) {
      if (outcomes[i] == RecordOutcome::kDeadLettered) d = config_.on_poison;
      if (outcomes[i] == RecordOutcome::kOutOfWindow) d = config_.outside_window;
    }
    if (d == Disposal::kDelete) {
      unconfirmed_[id] = it->second.receipt;
      remove.emplace_back(id, it->second.receipt);
    } else {
      released_.insert(id);
      release.emplace_back(id, it->second.receipt);
    }
    held_.erase(it);
  }
  Enqueue(Task::kDelete, std::move(remove));
  Enqueue(Task::kRelease, std::move(release));
  return permanent_;
}

}  // namespace

std::unique_ptr<Source> BuildSqsSource(const SqsSourceOptions& o, std::string_view path, const GetEnv& getenv,
                                       FieldErrors* errors) {
  const size_t before = errors->size();
  Config config;
  CheckSqsSourceOptions(o, path, errors, &config.warnings);
  std::optional<AwsConfig> aws = ResolveAwsConfig(o.aws, path, getenv, errors);
  if (!aws || errors->size() != before) return nullptr;
  config.aws = *std::move(aws);
  config.receivers = o.receivers;
  config.max_messages = o.max_messages;
  config.max_page_records = o.max_page_records;
  config.wait_time = absl::Seconds(absl::ToInt64Seconds(o.wait_time));
  config.visibility_timeout = absl::Seconds(absl::ToInt64Seconds(o.visibility_timeout));
  config.heartbeat = o.heartbeat;
  config.max_receive_count = o.max_receive_count;
  config.on_poison = o.on_poison;
  config.window_by_sent_time = o.window_by_sent_time;
  config.outside_window = o.outside_window;
  config.drain_after_empty_receives = o.drain_after_empty_receives;
  config.wait_for_in_flight = o.wait_for_in_flight;
  auto source = std::make_unique<SqsSource>(std::move(config), o.queue_url, o.queue_name);
  if (source->queue().fifo())
    source->set_outside_window(Disposal::kDelete);  // a released message blocks its group
  return source;
}

absl::StatusOr<std::unique_ptr<Source>> NewSqsSource(const SqsSourceOptions& options) {
  FieldErrors errors;
  CheckSqsSourceOptions(options, "", &errors);
  if (!errors.empty()) return errors.ToStatus("sqs source");
  std::unique_ptr<Source> source = BuildSqsSource(options, "", ProcessEnv, &errors);
  if (source == nullptr) return absl::NotFoundError(Join(errors.list(), "\n"));
  return source;
}

}  // namespace recovery
