// A stable, fast, non-cryptographic hash: the same bytes give the same value
// on every machine and in every run (unlike absl::Hash), so it can key records
// and checksum files.
#ifndef RECOVERY_UTIL_HASH_H_
#define RECOVERY_UTIL_HASH_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace recovery {

uint64_t StableHash64(std::string_view bytes, uint64_t seed = 0);

// 128 bits as 32 lowercase hex digits.
std::string StableHash128Hex(std::string_view bytes);

// 16 lowercase hex digits.
std::string Hex64(uint64_t value);

}  // namespace recovery

#endif  // RECOVERY_UTIL_HASH_H_
