// Reading SQS answers and the SQS source's checkpoint cursor.
#include "absl/strings/numbers.h"
#include "aws/sqs.h"
#include "json/json_writer.h"
#include "simdjson.h"
#include "util/strings.h"

namespace recovery {

// Reads a ReceiveMessage answer.
absl::Status ParseSqsMessages(simdjson::dom::parser& parser, std::string_view body,
                              std::vector<SqsReceivedMessage>* out) {
  out->clear();
  simdjson::dom::object root;
  if (auto err = parser.parse(body.data(), body.size()).get_object().get(root)) {
    return absl::DataLossError(
        StrCat("ReceiveMessage: the answer is not a JSON object: ", simdjson::error_message(err)));
  }
  simdjson::dom::array messages;
  if (root["Messages"].get_array().get(messages) != simdjson::SUCCESS) return absl::OkStatus();  // empty: {}
  for (simdjson::dom::element e : messages) {
    SqsReceivedMessage m;
    std::string_view s;
    if (e["MessageId"].get_string().get(s) != simdjson::SUCCESS) {
      return absl::DataLossError("ReceiveMessage: a message without MessageId");
    }
    m.id = std::string(s);
    if (e["ReceiptHandle"].get_string().get(s) != simdjson::SUCCESS) {
      return absl::DataLossError(StrCat("ReceiveMessage: message ", m.id, " has no ReceiptHandle"));
    }
    m.receipt = std::string(s);
    if (e["Body"].get_string().get(s) != simdjson::SUCCESS) {
      return absl::DataLossError(StrCat("ReceiveMessage: message ", m.id, " has no Body"));
    }
    m.body = std::string(s);
    simdjson::dom::object attributes;
    if (e["Attributes"].get_object().get(attributes) == simdjson::SUCCESS) {
      if (attributes["ApproximateReceiveCount"].get_string().get(s) == simdjson::SUCCESS) {
        (void)absl::SimpleAtoi(ToAbsl(s), &m.receive_count);
      }
      if (attributes["SentTimestamp"].get_string().get(s) == simdjson::SUCCESS) {
        (void)absl::SimpleAtoi(ToAbsl(s), &m.sent_ms);
      }
    }
    out->push_back(std::move(m));
  }
  return absl::OkStatus();
}

std::string EncodeSqsCursor(const SqsCursor& c) {
  if (c.unconfirmed.empty()) return "";
  std::string out = "{\"unconfirmed\":[";
  for (size_t i = 0; i < c.unconfirmed.size(); ++i) {
    if (i > 0) out.push_back(',');
    AppendJsonString(c.unconfirmed[i], &out);
  }
  StrAppend(&out, "],\"visible_by_ms\":", absl::ToUnixMillis(c.visible_by), "}");
  return out;
}

absl::StatusOr<SqsCursor> DecodeSqsCursor(std::string_view text) {
  SqsCursor c;
  if (text.empty()) return c;
  simdjson::dom::parser parser;
  simdjson::dom::object root;
  simdjson::dom::array ids;
  int64_t ms = 0;
  if (parser.parse(text.data(), text.size()).get_object().get(root) != simdjson::SUCCESS ||
      root["unconfirmed"].get_array().get(ids) != simdjson::SUCCESS ||
      root["visible_by_ms"].get_int64().get(ms) != simdjson::SUCCESS) {
    return absl::DataLossError(
        StrCat("SQS cursor is not {\"unconfirmed\":[...],\"visible_by_ms\":N}: ", text.substr(0, 200)));
  }
  for (simdjson::dom::element e : ids) {
    std::string_view id;
    if (e.get_string().get(id) != simdjson::SUCCESS)
      return absl::DataLossError("SQS cursor: a non-string id");
    c.unconfirmed.emplace_back(id);
  }
  c.visible_by = absl::FromUnixMillis(ms);
  return c;
}

}  // namespace recovery
