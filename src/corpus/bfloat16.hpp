// bfloat16 <-> float32: bfloat16 is the upper half of an IEEE float32.
#pragma once

#include <bit>
#include <cstdint>

namespace weave::corpus {

inline float bfloat16_to_float(std::uint16_t b) { return std::bit_cast<float>(static_cast<std::uint32_t>(b) << 16); }

/// Rounds to nearest, ties to even; NaN stays NaN.
inline std::uint16_t float_to_bfloat16(float f) {
  const auto u = std::bit_cast<std::uint32_t>(f);
  if ((u & 0x7f800000u) == 0x7f800000u && (u & 0x007fffffu) != 0) return static_cast<std::uint16_t>((u >> 16) | 0x40);
  const std::uint32_t rounding = 0x7fffu + ((u >> 16) & 1u);
  return static_cast<std::uint16_t>((u + rounding) >> 16);
}

}  // namespace weave::corpus
