// Any bytes as a batch endpoint's answer with per-item results, read by key
// or by position: either refused whole (the records sent again, none
// touched), or every record of the request given a fate, each refusal with
// a reason of bounded length, and no record outside the request touched.
#include <cstdint>
#include <string>
#include <vector>

#include "http/http_sink_bodies.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using recovery::SinkFate;
  if (size < 1) return 0;
  recovery::HttpSinkResults results;
  results.from = "/results";
  results.by_position = (data[0] & 1) != 0;
  if ((data[0] & 2) != 0) results.error_from = "";
  const recovery::SinkStatuses statuses{{409}, {429, 503}, {401}};
  recovery::RecordBatch batch;
  for (const char* key : {"a", "b", "c", "1", "b", "outside"}) batch.Add(key, absl::InfinitePast(), "{}");
  const std::vector<size_t> indexes = {0, 1, 2, 3, 4};  // the last record is not in the request
  std::vector<SinkFate> fates(batch.size(), SinkFate::kPending);
  std::vector<std::string> reasons(batch.size());
  const std::string body(reinterpret_cast<const char*>(data + 1), size - 1);
  const absl::Status s =
      recovery::ReadItemResults(body, results, statuses, batch.records(), indexes, &fates, &reasons);
  if (fates[5] != SinkFate::kPending || !reasons[5].empty()) __builtin_trap();
  for (size_t i : indexes) {
    if (!s.ok()) {
      if (fates[i] != SinkFate::kPending) __builtin_trap();
      continue;
    }
    if (fates[i] == SinkFate::kPending) __builtin_trap();
    if (fates[i] == SinkFate::kRejected && reasons[i].empty()) __builtin_trap();
    if (reasons[i].size() > 1000) __builtin_trap();
  }
  return 0;
}
