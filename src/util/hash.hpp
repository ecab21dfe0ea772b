// A fast 64-bit hash of a byte range, for grouping identical rows and fingerprinting a corpus: four
// independent multiply-xor lanes over 8-byte words (no long dependency chain, several GB/s), folded
// with SplitMix64's finaliser. Stable across machines and runs (std::hash is not promised to be).
#pragma once

#include <cstdint>
#include <cstring>

#include "util/random.hpp"

namespace weave::util {

inline std::uint64_t hash_bytes(const void* data, std::size_t bytes, std::uint64_t seed = 0) {
  constexpr std::uint64_t kMul = 0x9e3779b97f4a7c15ULL;
  const auto* p = static_cast<const unsigned char*>(data);
  std::uint64_t lane[4] = {0x243f6a8885a308d3ULL ^ seed, 0x13198a2e03707344ULL, 0xa4093822299f31d0ULL,
                           0x082efa98ec4e6c89ULL};
  std::size_t at = 0;
  for (; at + 32 <= bytes; at += 32)
    for (int l = 0; l < 4; ++l) {
      std::uint64_t word;
      std::memcpy(&word, p + at + 8 * l, 8);
      lane[l] = (lane[l] ^ word) * kMul;
    }
  for (int l = 0; at < bytes; ++at, l = (l + 1) % 4) lane[l] = (lane[l] ^ p[at]) * kMul;
  std::uint64_t h = mix64(bytes);
  for (std::uint64_t x : lane) h = mix64(h ^ x);
  return h;
}

}  // namespace weave::util
