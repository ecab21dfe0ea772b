// The exact dot product of two rows' 4-bit sketch codes (order/row_sketches.hpp): what scoring a
// stitching candidate costs once its two records are in cache, so it runs on the widest integer
// vector unit the CPU has (AVX-512 VNNI, AVX2, or a portable loop), chosen once. The dot product
// of integers is exact in any order: every kernel returns the same value.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

namespace weave::order {

/// The dot product of `bytes` bytes of codes, two a byte (code 2j in the low half of byte j, 2j + 1
/// in the high half), each 4-bit two's complement.
std::int64_t sketch_code_dot(const std::uint8_t* a, const std::uint8_t* b, std::int64_t bytes);

namespace detail {
using CodeDotKernel = std::int64_t (*)(const std::uint8_t*, const std::uint8_t*, std::int64_t);
/// Every kernel this CPU can run, by name, the widest last (sketch_code_dot runs it; the tests run
/// them all).
std::vector<std::pair<const char*, CodeDotKernel>> code_dot_kernels();
}  // namespace detail

}  // namespace weave::order
