// Any bytes as a checkpoint file: decoded, or refused as corrupt with a
// reason; what decodes re-encodes and decodes to the same checkpoint. An input
// of one line gets a valid checksum line appended, so the fuzzer reaches the
// JSON decoding behind it rather than stopping at the checksum; inputs with a
// newline are whole files. Operators' audit lines read back.
#include <cstdint>
#include <string>

#include "checkpoint/checkpoint_codec.h"
#include "recovery/job_state.h"
#include "util/hash.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string bytes(reinterpret_cast<const char*>(data), size);
  if (bytes.find('\n') == std::string::npos) {
    bytes += "\n" + recovery::Hex64(recovery::StableHash64(bytes)) + "\n";
  }
  absl::StatusOr<recovery::Checkpoint> ck = recovery::DecodeCheckpoint(bytes, "fuzz");
  if (!ck.ok()) {
    if (ck.status().message().empty()) __builtin_trap();
    return 0;
  }
  for (const std::string& edit : ck->edits) (void)recovery::ReadEdit(edit);  // an operator's audit line
  const std::string encoded = recovery::EncodeCheckpoint("job", "shard", *ck);
  absl::StatusOr<recovery::Checkpoint> again = recovery::DecodeCheckpoint(encoded, "fuzz");
  if (!again.ok()) __builtin_trap();
  if (recovery::EncodeCheckpoint("job", "shard", *again) != encoded) __builtin_trap();
  return 0;
}
