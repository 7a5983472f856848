// The SQS sink: injects recovered records into the live queue so that the
// existing consumers process them unchanged. SendMessageBatch with up to 10
// entries and 1 MiB per message and per batch; only failed entries are sent
// again; on a FIFO queue the record's key is the deduplication id, so a batch
// redelivered after a crash is dropped by SQS itself (within its 5-minute
// deduplication window).
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
#include "util/hash.h"
#include "util/strings.h"

namespace recovery {
namespace {

constexpr size_t kMaxEntries = 10;

struct Attribute {
  std::string name;
  std::string pointer;
};

struct SinkConfig {
  AwsConfig aws;
  std::string group_pointer;  // FIFO: MessageGroupId from this field of the payload
  std::string group_value;    // FIFO: or this fixed group
  std::vector<Attribute> attributes;
  int delay_seconds = 0;
  size_t max_message_bytes = 1u << 20;  // per message, attributes included
  size_t max_batch_bytes = 1u << 20;
  int max_entry_attempts = 5;  // tries for an entry SQS failed retryably
};

// A message ready to send.
struct Entry {
  size_t index;      // in the batch
  std::string json;  // the entry without its Id: "MessageBody":...,...
  size_t bytes;      // as SQS counts them: body plus attribute names, types and values
};

// The MessageDeduplicationId for `key`: itself when SQS accepts it (≤ 128
// printable ASCII characters), else a hash of it.
std::string DeduplicationId(std::string_view key) {
  bool ok = !key.empty() && key.size() <= 128;
  for (char c : key) ok = ok && c >= '!' && c <= '~';
  return ok ? std::string(key) : StableHash128Hex(key);
}

class SqsSink : public Sink {
 public:
  SqsSink(std::string queue_url, std::string queue_name)
      : queue_(std::move(queue_url), std::move(queue_name)) {}
  absl::Status Write(const WriteRequest& request, WriteResult* result) override {
    const Shard& shard = request.shard;
    const RecordBatch& batch = request.batch;
    std::unique_ptr<AwsJsonClient> client = TakeClient();
    absl::StatusOr<std::string> url = queue_.Url(*client);
    if (!url.ok()) {
      ReturnClient(std::move(client));
      return url.status();
    }
    // Keys this shard's previous, failed write already placed: not sent twice.
    std::unordered_set<std::string> already;
    {
      absl::MutexLock lock(&mu_);
      auto it = sent_by_failed_write_.find(shard.id);
      if (it != sent_by_failed_write_.end()) already = std::move(it->second);
      sent_by_failed_write_.erase(shard.id);
    }
    // Which records SQS took; turned into keys only if the write fails.
    std::vector<bool> sent(batch.size(), false);
    absl::Status s = Send(*client, *url, batch, already, &sent, &result->rejected);
    ReturnClient(std::move(client));
    if (!s.ok()) {
      for (size_t i = 0; i < batch.size(); ++i) {
        if (sent[i]) already.insert(std::string(batch.records()[i].key));
      }
      absl::MutexLock lock(&mu_);
      sent_by_failed_write_[shard.id] = std::move(already);
      return s;
    }
    return absl::OkStatus();
  }

 private:
  friend std::unique_ptr<Sink> recovery::BuildSqsSink(const SqsSinkOptions&, std::string_view, const GetEnv&,
                                                      FieldErrors*);

  std::unique_ptr<AwsJsonClient> TakeClient() {
    absl::MutexLock lock(&mu_);
    if (clients_.empty()) return std::make_unique<AwsJsonClient>(&config_.aws);
    std::unique_ptr<AwsJsonClient> c = std::move(clients_.back());
    clients_.pop_back();
    return c;
  }
  void ReturnClient(std::unique_ptr<AwsJsonClient> c) {
    absl::MutexLock lock(&mu_);
    clients_.push_back(std::move(c));
  }

  // Builds the entry for `record`, or says why SQS could never take it.
  absl::StatusOr<Entry> MakeEntry(simdjson::dom::parser& parser, const Record& record, size_t index) const {
    Entry e{index, "\"MessageBody\":", record.payload.size()};
    if (!IsValidUtf8(record.payload)) return absl::InvalidArgumentError("the payload is not valid UTF-8");
    AppendJsonString(record.payload, &e.json);
    simdjson::dom::element root;
    const bool need_fields = !config_.attributes.empty() || !config_.group_pointer.empty();
    if (need_fields &&
        parser.parse(record.payload.data(), record.payload.size()).get(root) != simdjson::SUCCESS) {
      return absl::InvalidArgumentError("the payload is not JSON, so no attribute can be read from it");
    }
    auto field = [&](const std::string& pointer, std::string* text, bool* number) -> bool {
      simdjson::dom::element v;
      if (root.at_pointer(pointer).get(v) != simdjson::SUCCESS || v.is_null()) return false;
      *number = v.is_number();
      std::string_view s;
      if (v.get_string().get(s) == simdjson::SUCCESS) {
        *text = std::string(s);
      } else {
        *text = simdjson::minify(v);
      }
      return true;
    };
    if (!config_.attributes.empty()) {
      std::string attrs;
      int n = 0;
      for (const Attribute& a : config_.attributes) {
        std::string value;
        bool number = false;
        if (!field(a.pointer, &value, &number)) continue;  // absent: no attribute
        StrAppend(&attrs, n++ > 0 ? "," : "", "");
        AppendJsonString(a.name, &attrs);
        StrAppend(&attrs, ":{\"DataType\":\"", number ? "Number" : "String", "\",\"StringValue\":");
        AppendJsonString(value, &attrs);
        attrs.push_back('}');
        e.bytes += a.name.size() + 6 + value.size();  // name, "String"/"Number", value
      }
      if (n > 0) StrAppend(&e.json, ",\"MessageAttributes\":{", attrs, "}");
    }
    if (queue_.fifo()) {
      std::string group = config_.group_value;
      if (!config_.group_pointer.empty()) {
        bool number = false;
        if (!field(config_.group_pointer, &group, &number) || group.empty()) {
          return absl::InvalidArgumentError(
              StrCat("no message group id at ", config_.group_pointer, " (required by a FIFO queue)"));
        }
      }
      if (group.size() > 128) {
        return absl::InvalidArgumentError(
            StrCat("message group id of ", group.size(), " characters (max 128)"));
      }
      e.json += ",\"MessageGroupId\":";
      AppendJsonString(group, &e.json);
      e.json += ",\"MessageDeduplicationId\":";
      AppendJsonString(DeduplicationId(record.key), &e.json);
    }
    if (config_.delay_seconds > 0 && !queue_.fifo())
      StrAppend(&e.json, ",\"DelaySeconds\":", config_.delay_seconds);
    if (e.bytes > config_.max_message_bytes) {
      return absl::InvalidArgumentError(StrCat("message of ", e.bytes, " bytes exceeds the SQS limit of ",
                                               config_.max_message_bytes, " bytes"));
    }
    return e;
  }

  // Sends one SendMessageBatch; entries that failed retryably stay in `entries`.
  absl::Status SendBatch(AwsJsonClient& client, const std::string& url, const RecordBatch& batch,
                         std::vector<Entry>& entries, std::vector<bool>* sent,
                         std::vector<SinkRejection>* rejected) {
    std::string body = "{\"QueueUrl\":";
    AppendJsonString(url, &body);
    body += ",\"Entries\":[";
    for (size_t i = 0; i < entries.size(); ++i) {
      StrAppend(&body, i > 0 ? "," : "", "{\"Id\":\"", i, "\",", entries[i].json, "}");
    }
    body += "]}";
    absl::StatusOr<std::string> response =
        client.Call("SendMessageBatch", std::move(body), absl::Seconds(30));
    if (!response.ok()) return response.status();
    std::vector<std::string> ok;
    std::vector<SqsBatchFailure> failed;
    if (absl::Status s = ParseSqsBatchResult(*response, &ok, &failed); !s.ok()) {
      return absl::UnavailableError(StrCat("SendMessageBatch: ", s.message()));
    }
    std::vector<bool> done(entries.size(), false);
    for (const std::string& id : ok) {
      size_t n;
      if (absl::SimpleAtoi(ToAbsl(id), &n) && n < entries.size()) {
        done[n] = true;
        (*sent)[entries[n].index] = true;
      }
    }
    for (const SqsBatchFailure& f : failed) {
      size_t n;
      if (!absl::SimpleAtoi(ToAbsl(f.id), &n) || n >= entries.size()) continue;
      if (!IsRetryableEntryFailure(f)) {
        done[n] = true;
        rejected->push_back({entries[n].index, StrCat("SQS refused it: ", f.code, ": ", f.message)});
      }
    }
    std::vector<Entry> retry;
    for (size_t n = 0; n < entries.size(); ++n) {
      if (!done[n]) retry.push_back(std::move(entries[n]));
    }
    entries = std::move(retry);
    return absl::OkStatus();
  }

  absl::Status Send(AwsJsonClient& client, const std::string& url, const RecordBatch& batch,
                    const std::unordered_set<std::string>& already, std::vector<bool>* sent,
                    std::vector<SinkRejection>* rejected) {
    simdjson::dom::parser parser;
    std::vector<Entry> pending;
    size_t pending_bytes = 0;
    auto flush = [&]() -> absl::Status {
      absl::Duration backoff = absl::Milliseconds(50);
      for (int attempt = 1; !pending.empty(); ++attempt) {
        if (absl::Status s = SendBatch(client, url, batch, pending, sent, rejected); !s.ok()) return s;
        if (pending.empty()) break;
        if (attempt >= config_.max_entry_attempts) {
          return absl::UnavailableError(StrCat("SendMessageBatch: ", pending.size(),
                                               " entries still failing after ", attempt, " attempts"));
        }
        absl::SleepFor(backoff);
        backoff = std::min(backoff * 2, absl::Seconds(2));
      }
      pending_bytes = 0;
      return absl::OkStatus();
    };
    for (size_t i = 0; i < batch.size(); ++i) {
      const Record& r = batch.records()[i];
      if (!already.empty() && already.count(std::string(r.key)) > 0) {
        (*sent)[i] = true;
        continue;
      }
      absl::StatusOr<Entry> e = MakeEntry(parser, r, i);
      if (!e.ok()) {
        rejected->push_back({i, std::string(e.status().message())});
        continue;
      }
      if (pending.size() == kMaxEntries || pending_bytes + e->bytes > config_.max_batch_bytes) {
        if (absl::Status s = flush(); !s.ok()) return s;
      }
      pending_bytes += e->bytes;
      pending.push_back(*std::move(e));
    }
    return flush();
  }

  SinkConfig config_;
  SqsQueue queue_;
  absl::Mutex mu_;
  std::vector<std::unique_ptr<AwsJsonClient>> clients_ ABSL_GUARDED_BY(mu_);
  std::unordered_map<std::string, std::unordered_set<std::string>> sent_by_failed_write_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

std::unique_ptr<Sink> BuildSqsSink(const SqsSinkOptions& o, std::string_view path, const GetEnv& getenv,
                                   FieldErrors* errors) {
  const size_t before = errors->size();
  CheckSqsSinkOptions(o, path, errors);
  std::optional<AwsConfig> aws = ResolveAwsConfig(o.aws, path, getenv, errors);
  if (!aws || errors->size() != before) return nullptr;
  auto sink = std::make_unique<SqsSink>(o.queue_url, o.queue_name);
  SinkConfig& config = sink->config_;
  config.aws = *std::move(aws);
  config.group_pointer = o.message_group_id_from;
  config.group_value = o.message_group_id;
  for (const auto& [name, pointer] : o.attributes) config.attributes.push_back({name, pointer});
  config.delay_seconds = static_cast<int>(absl::ToInt64Seconds(o.delay));
  config.max_message_bytes = static_cast<size_t>(o.max_message_bytes);
  return sink;
}

absl::StatusOr<std::unique_ptr<Sink>> NewSqsSink(const SqsSinkOptions& options) {
  FieldErrors errors;
  CheckSqsSinkOptions(options, "", &errors);
  if (!errors.empty()) return errors.ToStatus("sqs sink");
  std::unique_ptr<Sink> sink = BuildSqsSink(options, "", ProcessEnv, &errors);
  if (sink == nullptr) return absl::NotFoundError(Join(errors.list(), "\n"));
  return sink;
}

}  // namespace recovery
