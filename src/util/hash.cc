#include "util/hash.h"

#include <cstring>

namespace recovery {
namespace {

constexpr uint64_t kMul0 = 0x9e3779b97f4a7c15ULL;
constexpr uint64_t kMul1 = 0xd6e8feb86659fd93ULL;
constexpr uint64_t kMul2 = 0xbf58476d1ce4e5b9ULL;

// Folds the 128-bit product: cheap and mixes every input bit into every output bit.
inline uint64_t Mix(uint64_t a, uint64_t b) {
  __uint128_t product = static_cast<__uint128_t>(a) * b;
  return static_cast<uint64_t>(product) ^ static_cast<uint64_t>(product >> 64);
}

inline uint64_t Load64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

inline uint64_t LoadTail(const char* p, size_t n) {  // n < 8
  uint64_t v = 0;
  std::memcpy(&v, p, n);
  return v;
}

}  // namespace

uint64_t StableHash64(std::string_view bytes, uint64_t seed) {
  const char* p = bytes.data();
  size_t n = bytes.size();
  uint64_t h = Mix(seed ^ kMul0, n ^ kMul1);
  while (n >= 16) {
    h = Mix(Load64(p) ^ kMul1 ^ h, Load64(p + 8) ^ kMul2);
    p += 16;
    n -= 16;
  }
  if (n >= 8) {
    h = Mix(Load64(p) ^ kMul1 ^ h, kMul2);
    p += 8;
    n -= 8;
  }
  h = Mix(LoadTail(p, n) ^ kMul2 ^ h, kMul0 ^ n);
  return Mix(h ^ (h >> 29), kMul1);
}

std::string Hex64(uint64_t value) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i) {
    out[i] = kDigits[value & 0xf];
    value >>= 4;
  }
  return out;
}

std::string StableHash128Hex(std::string_view bytes) {
  return Hex64(StableHash64(bytes, 0x5851f42d4c957f2dULL)) +
         Hex64(StableHash64(bytes, 0x14057b7ef767814fULL));
}

}  // namespace recovery
