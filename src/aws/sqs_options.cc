// Checking the SQS source's and sink's options: every problem under its field.
#include "aws/sqs.h"
#include "util/strings.h"

namespace recovery {

using Disposal = SqsDisposal;

void CheckSqsSourceOptions(const SqsSourceOptions& o, std::string_view path, FieldErrors* errors,
                           std::vector<std::string>* warnings) {
  std::vector<std::string> ignored;
  CheckAwsOptions(o.aws, path, errors, warnings != nullptr ? warnings : &ignored);
  CheckSqsQueue(o.queue_url, o.queue_name, path, errors);
  auto range = [&](std::string_view key, int64_t v, int64_t min, int64_t max) {
    if (v < min || v > max) errors->Add(JoinPath(path, key), StrCat("must be ", min, " to ", max));
  };
  range("receivers", o.receivers, 1, 64);
  range("max_messages", o.max_messages, 1, 10);
  range("max_page_records", o.max_page_records, 1, 10000);
  range("max_receive_count", o.max_receive_count, 0, 1000);
  range("drain_after_empty_receives", o.drain_after_empty_receives, 1, 1000);
  if (o.wait_time < absl::ZeroDuration() || o.wait_time > absl::Seconds(20)) {
    errors->Add(JoinPath(path, "wait_time"), "at most 20s (the SQS limit)");
  }
  if (o.visibility_timeout < absl::Seconds(1) || o.visibility_timeout > absl::Hours(12)) {
    errors->Add(JoinPath(path, "visibility_timeout"), "at most 12h (the SQS limit), at least 1s");
  }
  const bool fifo = SqsQueue(o.queue_url, o.queue_name).fifo();
  // A released message goes back to the head of its group and blocks every later one.
  if (fifo && o.on_poison == Disposal::kRelease) {
    errors->Add(JoinPath(path, "on_poison"),
                "\"release\" would block a FIFO message group behind the poison message; use \"delete\"");
  }
}

void CheckSqsSinkOptions(const SqsSinkOptions& o, std::string_view path, FieldErrors* errors) {
  std::vector<std::string> warnings;  // sinks have no warning channel yet; sources log theirs
  CheckAwsOptions(o.aws, path, errors, &warnings);
  CheckSqsQueue(o.queue_url, o.queue_name, path, errors);
  const bool fifo = SqsQueue(o.queue_url, o.queue_name).fifo();
  const std::string group_path = JoinPath(path, "message_group_id_from");
  if (!o.message_group_id_from.empty() && o.message_group_id_from[0] != '/') {
    errors->Add(group_path, "expected a JSON pointer such as \"/account_id\"");
  }
  if (fifo && o.message_group_id_from.empty() == o.message_group_id.empty()) {
    errors->Add(group_path,
                "a FIFO queue needs exactly one of \"message_group_id_from\" (a JSON pointer) or "
                "\"message_group_id\" (a fixed group)");
  }
  if (!fifo && (!o.message_group_id_from.empty() || !o.message_group_id.empty())) {
    errors->Add(group_path, "message groups exist only on FIFO queues (*.fifo)");
  }
  for (const auto& [name, pointer] : o.attributes) {
    if (pointer.empty() || pointer[0] != '/') {
      errors->Add(JoinPath(path, StrCat("attributes.", name)), "expected a JSON pointer such as \"/type\"");
    }
  }
  if (o.attributes.size() > 10) errors->Add(JoinPath(path, "attributes"), "at most 10 (the SQS limit)");
  if (o.delay < absl::ZeroDuration() || o.delay > absl::Seconds(900)) {
    errors->Add(JoinPath(path, "delay"), "at most 900s (the SQS limit)");
  }
  if (fifo && o.delay > absl::ZeroDuration()) {
    errors->Add(JoinPath(path, "delay"), "FIFO queues take no per-message delay");
  }
  if (o.max_message_bytes < 1024 || o.max_message_bytes > (1 << 20)) {
    errors->Add(JoinPath(path, "max_message_bytes"), "must be 1024 to 1048576");
  }
}

}  // namespace recovery
