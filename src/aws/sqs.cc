#include "aws/sqs.h"

#include "json/json_writer.h"
#include "simdjson.h"
#include "util/strings.h"

namespace recovery {

namespace {

bool IsFifo(std::string_view name) { return name.size() > 5 && name.substr(name.size() - 5) == ".fifo"; }

}  // namespace

void CheckSqsQueue(std::string_view url, std::string_view name, std::string_view path, FieldErrors* errors) {
  if (url.empty() == name.empty()) {
    errors->Add(JoinPath(path, "queue_url"), "give exactly one of \"queue_url\" or \"queue_name\"");
    return;
  }
  if (!url.empty() && url.rfind("https://", 0) != 0 && url.rfind("http://", 0) != 0) {
    errors->Add(JoinPath(path, "queue_url"), StrCat("expected an http(s) URL, got \"", url, "\""));
  }
  if (!name.empty() && name.size() > 80)
    errors->Add(JoinPath(path, "queue_name"), "must be 1 to 80 characters");
}

SqsQueue::SqsQueue(std::string url, std::string name)
    : name_(std::move(name)), fifo_(IsFifo(url.empty() ? name_ : url)), url_(std::move(url)) {}

absl::StatusOr<std::string> SqsQueue::Url(AwsJsonClient& client) {
  absl::MutexLock lock(&mu_);
  if (!url_.empty()) return url_;
  std::string body;
  JsonObjectWriter(&body).Str("QueueName", name_).Close();
  absl::StatusOr<std::string> response = client.Call("GetQueueUrl", std::move(body), absl::Seconds(30));
  if (!response.ok()) {
    return absl::Status(response.status().code(),
                        StrCat("looking up queue \"", name_, "\": ", response.status().message()));
  }
  simdjson::dom::parser parser;
  std::string_view url;
  if (parser.parse(*response).get_object()["QueueUrl"].get_string().get(url) != simdjson::SUCCESS) {
    return absl::DataLossError(StrCat("GetQueueUrl for \"", name_, "\": no QueueUrl in the answer"));
  }
  url_ = std::string(url);
  return url_;
}

absl::Status ParseSqsBatchResult(std::string_view body, std::vector<std::string>* successful,
                                 std::vector<SqsBatchFailure>* failed) {
  successful->clear();
  failed->clear();
  simdjson::dom::parser parser;
  simdjson::dom::object root;
  if (auto err = parser.parse(body.data(), body.size()).get_object().get(root)) {
    return absl::DataLossError(StrCat("batch result is not a JSON object: ", simdjson::error_message(err)));
  }
  simdjson::dom::array ok;
  if (root["Successful"].get_array().get(ok) == simdjson::SUCCESS) {
    for (simdjson::dom::element e : ok) {
      std::string_view id;
      if (e["Id"].get_string().get(id) != simdjson::SUCCESS) {
        return absl::DataLossError("batch result: a Successful entry has no Id");
      }
      successful->emplace_back(id);
    }
  }
  simdjson::dom::array bad;
  if (root["Failed"].get_array().get(bad) == simdjson::SUCCESS) {
    for (simdjson::dom::element e : bad) {
      SqsBatchFailure f;
      std::string_view s;
      if (e["Id"].get_string().get(s) != simdjson::SUCCESS) {
        return absl::DataLossError("batch result: a Failed entry has no Id");
      }
      f.id = std::string(s);
      if (e["Code"].get_string().get(s) == simdjson::SUCCESS) f.code = std::string(s);
      if (e["Message"].get_string().get(s) == simdjson::SUCCESS) f.message = std::string(s);
      bool sender = false;
      if (e["SenderFault"].get_bool().get(sender) == simdjson::SUCCESS) f.sender_fault = sender;
      failed->push_back(std::move(f));
    }
  }
  return absl::OkStatus();
}

bool IsRetryableEntryFailure(const SqsBatchFailure& f) {
  return !f.sender_fault || IsAwsThrottling(f.code) || f.code == "InternalError" ||
         f.code == "ServiceUnavailable";
}

}  // namespace recovery
