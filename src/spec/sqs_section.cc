#include "spec/sqs_section.h"

#include "aws/sqs.h"
#include "util/file.h"
#include "util/strings.h"

namespace recovery {
namespace {

// "region", "endpoint", "profile", "credentials" {"access_key_id_env",
// "secret_access_key_env", "session_token_env"}, "connect_timeout", "tls" {"ca_file"}.
AwsOptions ReadAws(SpecObject& o, const std::string& base_dir) {
  AwsOptions aws;
  if (std::optional<SpecObject> c = o.Object("credentials")) {
    // A command printing them (credential_process), or the variables holding them.
    if (std::optional<simdjson::dom::array> argv = c->Array("process")) {
      for (simdjson::dom::element e : *argv) {
        std::string_view arg;
        if (e.get_string().get(arg) != simdjson::SUCCESS) {
          c->errors()->Add(c->PathOf("process"),
                           "expected an array of strings: the program and its arguments");
          break;
        }
        aws.credential_process.emplace_back(arg);
      }
      if (argv->size() == 0) c->errors()->Add(c->PathOf("process"), "expected the program and its arguments");
      if (!aws.credential_process.empty() && aws.credential_process[0].find('/') != std::string::npos)
        aws.credential_process[0] = ResolvePath(base_dir, aws.credential_process[0]);
    }
    if (auto t = c->Duration("process_timeout", false, absl::Milliseconds(1)))
      aws.credential_process_timeout = *t;
    const bool process = !aws.credential_process.empty();
    aws.access_key_id_env = c->String("access_key_id_env", !process).value_or("");
    aws.secret_access_key_env = c->String("secret_access_key_env", !process).value_or("");
    aws.session_token_env = c->String("session_token_env").value_or("");
    c->Finish();
  }
  aws.profile = o.String("profile").value_or("");
  aws.region = o.String("region").value_or("");
  aws.endpoint = o.String("endpoint").value_or("");
  if (std::optional<absl::Duration> d = o.Duration("connect_timeout", false, absl::Milliseconds(1))) {
    aws.connect_timeout = *d;
  }
  if (std::optional<SpecObject> tls = o.Object("tls")) {
    aws.ca_file = tls->String("ca_file").value_or("");
    tls->Finish();
  }
  return aws;
}

SqsDisposal DisposalAt(SpecObject& o, std::string_view key, SqsDisposal fallback) {
  return static_cast<SqsDisposal>(
      o.Enum(key, false, {"delete", "release"}).value_or(static_cast<int>(fallback)));
}

}  // namespace

SqsSourceOptions ReadSqsSource(SpecObject& o, const std::string& base_dir) {
  SqsSourceOptions s;
  s.aws = ReadAws(o, base_dir);
  s.queue_url = o.String("queue_url").value_or("");
  s.queue_name = o.String("queue_name").value_or("");
  s.receivers = static_cast<int>(o.Int("receivers", false, 1, 64).value_or(s.receivers));
  s.max_messages = static_cast<int>(o.Int("max_messages", false, 1, 10).value_or(s.max_messages));
  s.max_page_records =
      static_cast<int>(o.Int("max_page_records", false, 1, 10000).value_or(s.max_page_records));
  if (auto d = o.Duration("wait_time", false, absl::ZeroDuration())) s.wait_time = *d;
  if (auto d = o.Duration("visibility_timeout", false, absl::Seconds(1))) s.visibility_timeout = *d;
  s.heartbeat = o.Bool("heartbeat").value_or(true);
  s.max_receive_count =
      static_cast<int>(o.Int("max_receive_count", false, 0, 1000).value_or(s.max_receive_count));
  s.on_poison = DisposalAt(o, "on_poison", SqsDisposal::kDelete);
  s.window_by_sent_time = o.Enum("window", false, {"event_time", "sent_timestamp"}).value_or(0) == 1;
  s.outside_window = DisposalAt(o, "outside_window", SqsDisposal::kRelease);
  s.drain_after_empty_receives = static_cast<int>(
      o.Int("drain_after_empty_receives", false, 1, 1000).value_or(s.drain_after_empty_receives));
  s.wait_for_in_flight = o.Bool("wait_for_in_flight").value_or(true);
  const bool fifo = SqsQueue(s.queue_url, s.queue_name).fifo();
  if (fifo && o.Has("outside_window") && s.outside_window == SqsDisposal::kRelease) {
    // A released message goes back to the head of its group and blocks every later one.
    o.errors()->Add(
        o.PathOf("outside_window"),
        "\"release\" would block a FIFO message group behind the released message; use \"delete\"");
  }
  CheckSqsSourceOptions(s, o.path(), o.errors());
  return s;
}

SqsSinkOptions ReadSqsSink(SpecObject& o, const std::string& base_dir) {
  SqsSinkOptions s;
  s.aws = ReadAws(o, base_dir);
  s.queue_url = o.String("queue_url").value_or("");
  s.queue_name = o.String("queue_name").value_or("");
  s.message_group_id_from = o.String("message_group_id_from").value_or("");
  s.message_group_id = o.String("message_group_id").value_or("");
  s.attributes = o.StringMap("attributes");
  if (auto d = o.Duration("delay", false, absl::ZeroDuration())) s.delay = *d;
  s.max_message_bytes = o.Int("max_message_bytes", false, 1024, 1 << 20).value_or(s.max_message_bytes);
  CheckSqsSinkOptions(s, o.path(), o.errors());
  return s;
}

}  // namespace recovery
