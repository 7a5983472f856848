// Any bytes as a raw record through a mapping that uses every field type:
// emitted, dropped or rejected with a reason, and an emitted payload is valid
// UTF-8 JSON.
#include <cstdint>
#include <cstdio>
#include <string>

#include "json/json_writer.h"
#include "recovery/mapper.h"
#include "recovery/record.h"
#include "recovery/shard.h"
#include "simdjson.h"

namespace {

constexpr char kMapping[] = R"({"type":"json",
  "fields":[{"name":"id","from":"/id","required":true},
            {"name":"n","from":"/n","type":"int64"},
            {"name":"x","from":"/x","type":"double"},
            {"name":"b","from":"/b","type":"bool"},
            {"name":"amount","from":"/amount/value","type":"decimal"},
            {"name":"at","from":"/at","type":"timestamp"},
            {"name":"ms","from":"/ms","type":"timestamp","format":"epoch_ms"},
            {"name":"raw","from":"/nested/0/deep","type":"json"},
            {"name":"c","const":{"k":[1,2]}},
            {"name":"d","from":"/d","default":"none"}],
  "key":{"from":["/id","/n"]},"event_time":{"from":"/at"}})";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::unique_ptr<recovery::Mapper> mapper = *recovery::NewJsonMapper(kMapping);
  static const recovery::Shard shard{"s", 0, absl::InfinitePast(), absl::InfiniteFuture()};
  std::string padded(reinterpret_cast<const char*>(data), size);
  padded.reserve(size + recovery::kRawRecordPadding);
  padded.append(recovery::kRawRecordPadding, '\0');
  recovery::RawRecord raw;
  raw.data = std::string_view(padded.data(), size);
  recovery::RecordBatch batch;
  std::string reason;
  const recovery::MapOutcome outcome = mapper->Map(raw, shard, &batch, &reason);
  if (outcome == recovery::MapOutcome::kRejected && reason.empty()) __builtin_trap();
  if (outcome == recovery::MapOutcome::kEmitted) {
    if (batch.size() != 1) __builtin_trap();
    const std::string_view payload = batch.records()[0].payload;
    if (!recovery::IsValidUtf8(payload)) __builtin_trap();
    simdjson::dom::parser parser;
    if (auto err = parser.parse(payload.data(), payload.size()).error()) {
      std::fprintf(stderr, "emitted invalid JSON (%s): %.*s\n", simdjson::error_message(err),
                   static_cast<int>(payload.size()), payload.data());
      __builtin_trap();
    }
  }
  return 0;
}
