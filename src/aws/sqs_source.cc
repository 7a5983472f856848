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
#include "aws/sqs_reader.h"
#include "json/json_writer.h"
#include "recovery/status.h"
#include "simdjson.h"
#include "util/status_macros.h"
#include "util/strings.h"
#include "util/time_format.h"

namespace recovery {
namespace sqs_internal {

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
  // As many delete workers as receivers: a delete batch holds as many
  // messages as a receive (10) and takes as long, so fewer would fall behind
  // the receives, and every page's cursor would carry the growing backlog of
  // messages not yet deleted.
  const int workers = std::clamp(config_.receivers, 2, 64);
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

absl::StatusOr<QueueFacts> SqsSource::Describe() {
  AwsJsonClient client(&config_.aws);
  RECOVERY_ASSIGN_OR_RETURN(std::string url, queue_.Url(client));
  std::string body = "{\"QueueUrl\":";
  AppendJsonString(url, &body);
  body += ",\"AttributeNames\":[\"All\"]}";
  RECOVERY_ASSIGN_OR_RETURN(std::string response, client.Call("GetQueueAttributes", body, absl::Seconds(30)));
  simdjson::dom::parser parser;
  simdjson::dom::object attributes;
  if (parser.parse(response).get_object()["Attributes"].get_object().get(attributes) != simdjson::SUCCESS) {
    return absl::DataLossError(StrCat("GetQueueAttributes of ", url, ": no Attributes in the answer"));
  }
  auto text = [&](const char* name) {
    std::string_view s;
    return attributes[name].get_string().get(s) == simdjson::SUCCESS ? std::string(s) : std::string();
  };
  auto count = [&](const char* name) -> int64_t {
    int64_t n = -1;
    return absl::SimpleAtoi(ToAbsl(text(name)), &n) ? n : -1;
  };
  QueueFacts f;
  f.queue = url;
  f.visible = count("ApproximateNumberOfMessages");
  f.in_flight = count("ApproximateNumberOfMessagesNotVisible");
  f.delayed = count("ApproximateNumberOfMessagesDelayed");
  if (const int64_t seconds = count("MessageRetentionPeriod"); seconds > 0)
    f.retention = absl::Seconds(seconds);
  f.redrive_policy = text("RedrivePolicy");
  return f;
}

}  // namespace sqs_internal

using sqs_internal::Config;
using sqs_internal::SqsSource;

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
    source->set_outside_window(SqsDisposal::kDelete);  // a released message blocks its group
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
