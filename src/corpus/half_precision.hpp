// 16-bit floats <-> float32, done here rather than by HDF5: HDF5 1.10's soft float conversion
// rounds float32 -> float16 wrongly when the rounding carries into the exponent (0.24999 -> 0.125).
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>

namespace weave::corpus {

/// bfloat16 is the upper half of an IEEE float32.
inline float bfloat16_to_float(std::uint16_t b) { return std::bit_cast<float>(static_cast<std::uint32_t>(b) << 16); }

/// Rounds to nearest, ties to even; NaN stays NaN.
inline std::uint16_t float_to_bfloat16(float f) {
  const auto u = std::bit_cast<std::uint32_t>(f);
  if ((u & 0x7f800000u) == 0x7f800000u && (u & 0x007fffffu) != 0) return static_cast<std::uint16_t>((u >> 16) | 0x40);
  const std::uint32_t rounding = 0x7fffu + ((u >> 16) & 1u);
  return static_cast<std::uint16_t>((u + rounding) >> 16);
}

/// IEEE binary16 -> float32 (exact).
inline float half_to_float(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  const std::uint32_t exponent = (h >> 10) & 0x1fu;
  const std::uint32_t mantissa = h & 0x3ffu;
  if (exponent == 0) {  // zero or subnormal: mantissa * 2^-24
    const float v = std::ldexp(static_cast<float>(mantissa), -24);
    return sign ? -v : v;
  }
  if (exponent == 31) return std::bit_cast<float>(sign | 0x7f800000u | (mantissa << 13));  // inf / NaN
  return std::bit_cast<float>(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

/// float32 -> IEEE binary16, round to nearest, ties to even; overflow gives infinity.
inline std::uint16_t float_to_half(float f) {
  const auto x = std::bit_cast<std::uint32_t>(f);
  const auto sign = static_cast<std::uint16_t>((x >> 16) & 0x8000u);
  const std::uint32_t abs = x & 0x7fffffffu;
  if (abs >= 0x7f800000u) return sign | 0x7c00u | (abs > 0x7f800000u ? 0x200u : 0u);  // inf / NaN
  if (abs >= 0x477ff000u) return sign | 0x7c00u;  // >= 65520 rounds past the largest half (65504)
  if (abs < 0x38800000u) {                         // below 2^-14: subnormal half (or zero)
    // Scaling by 2^24 is exact; nearbyint rounds ties to even. 1024 encodes the smallest normal.
    const auto m = static_cast<std::uint32_t>(std::nearbyint(std::bit_cast<float>(abs) * 16777216.0f));
    return static_cast<std::uint16_t>(sign | m);
  }
  std::uint32_t h = ((abs >> 23) - 112) << 10 | ((abs & 0x7fffffu) >> 13);
  const std::uint32_t rest = abs & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;  // a carry moves into the exponent correctly
  return static_cast<std::uint16_t>(sign | h);
}

}  // namespace weave::corpus
