// Any bytes as an SQS answer: a ReceiveMessage body, a batch result, an error
// body (JSON or XML) or a checkpoint cursor. Parsed or refused with a reason;
// a cursor that decodes re-encodes to the same ids.
#include <cstdint>
#include <string>

#include "aws/aws.h"
#include "aws/sqs.h"
#include "simdjson.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  simdjson::dom::parser parser;
  std::vector<recovery::SqsReceivedMessage> messages;
  absl::Status s = recovery::ParseSqsMessages(parser, text, &messages);
  if (!s.ok() && s.message().empty()) __builtin_trap();

  std::vector<std::string> ok;
  std::vector<recovery::SqsBatchFailure> failed;
  s = recovery::ParseSqsBatchResult(text, &ok, &failed);
  if (!s.ok() && s.message().empty()) __builtin_trap();

  const std::string header = text.substr(0, 64);
  (void)recovery::ParseAwsError(text, &header);

  absl::StatusOr<recovery::SqsCursor> cursor = recovery::DecodeSqsCursor(text);
  if (cursor.ok() && !cursor->unconfirmed.empty()) {
    absl::StatusOr<recovery::SqsCursor> again = recovery::DecodeSqsCursor(recovery::EncodeSqsCursor(*cursor));
    if (!again.ok() || again->unconfirmed != cursor->unconfirmed) __builtin_trap();
  }
  return 0;
}
