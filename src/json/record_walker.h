// The mapper's hot loop: one forward pass over a record with simdjson
// On-Demand, capturing the values a trie of JSON pointers asks for.
//
// Kept in its own translation unit with a plain function table so that a
// build for a specific CPU (simdjson's On-Demand is compiled for the target
// the flags allow) can swap it without touching the mapper. Measured here: a
// copy built with AVX2 flags was no faster (0.91x-1.08x of this one), since
// simdjson's stage 1 already dispatches at run time.
#ifndef RECOVERY_JSON_RECORD_WALKER_H_
#define RECOVERY_JSON_RECORD_WALKER_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace recovery {
namespace walk {

enum class Kind : uint8_t { kMissing, kString, kNumber, kBool, kNull, kObject, kArray };

struct Slot {
  Kind kind = Kind::kMissing;
  // The unescaped string, the number's token, "true"/"false"/"null", or the
  // raw JSON of a container. Valid until the thread's next walk.
  std::string_view text;
};

struct PathNode {
  std::string key;
  int64_t index = -1;  // the key as an array index, or -1
  int slot = -1;       // >= 0 when the value here is captured
  std::vector<int> children;
};

enum class Result { kOk, kNotObject, kInvalidJson, kInvalidUtf8 };

// `input` must be followed by 64 readable bytes. On kInvalidJson, `*error`
// holds simdjson's message.
using WalkFn = Result (*)(std::string_view input, const std::vector<PathNode>& nodes,
                          std::vector<Slot>& slots, const char** error);
// Visits every value of `input` (strings unescaped, numbers parsed): what a
// plain On-Demand pass costs, the benchmark's baseline. Returns the count of
// values, or -1 on invalid JSON.
using IterateFn = int64_t (*)(std::string_view input);

struct Kernel {
  const char* name;
  WalkFn walk;
  IterateFn iterate;
};

const Kernel& BestKernel();

}  // namespace walk
}  // namespace recovery

#endif  // RECOVERY_JSON_RECORD_WALKER_H_
