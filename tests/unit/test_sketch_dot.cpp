// order::sketch_code_dot and each kernel this CPU can run (portable, AVX2, AVX-512 VNNI) against
// the codes decoded one by one: the same integer for any length (the vector loops' steps and the
// bytes after them), any nibbles (the codes' extremes, and -8, which no sketch holds but a kernel
// must not mind), and the same from either end.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <vector>

#include "order/sketch_code_dot.hpp"
#include "util/random.hpp"

namespace weave::order {
namespace {

/// Code j: nibble j of the bytes (low nibble first), 4-bit two's complement.
std::int64_t code_at(const std::vector<std::uint8_t>& bytes, std::int64_t j) {
  const auto nibble = static_cast<std::int64_t>((bytes[static_cast<std::size_t>(j / 2)] >> (4 * (j % 2))) & 0xf);
  return nibble >= 8 ? nibble - 16 : nibble;
}

std::vector<std::uint8_t> random_codes(std::int64_t bytes, std::uint64_t seed, int lowest, int highest) {
  std::vector<std::uint8_t> out(static_cast<std::size_t>(bytes), 0);
  const auto span = static_cast<std::uint64_t>(highest - lowest + 1);
  for (std::int64_t j = 0; j < 2 * bytes; ++j) {
    const auto code = static_cast<std::int32_t>(util::mix64(seed * 1000003 + static_cast<std::uint64_t>(j)) % span) + lowest;
    out[static_cast<std::size_t>(j / 2)] |= static_cast<std::uint8_t>((static_cast<std::uint32_t>(code) & 0xfu) << (4 * (j % 2)));
  }
  return out;
}

TEST(SketchCodeDot, EveryKernelEqualsTheDecodedCodes) {
  const auto kernels = detail::code_dot_kernels();
  ASSERT_GE(kernels.size(), 1u);
  for (const auto& [name, kernel] : kernels) std::printf("kernel %s\n", name);
  for (std::int64_t bytes : {1, 2, 7, 31, 32, 33, 63, 64, 65, 95, 127, 128, 129, 384, 500, 2048}) {
    for (auto [lowest, highest] : {std::pair{-7, 7}, std::pair{-8, 7}, std::pair{7, 7}, std::pair{-7, -7}, std::pair{-8, -8}}) {
      for (std::uint64_t seed = 1; seed <= 3; ++seed) {
        const auto a = random_codes(bytes, seed, lowest, highest), b = random_codes(bytes, seed + 100, lowest, highest);
        std::int64_t expected = 0;
        for (std::int64_t j = 0; j < 2 * bytes; ++j) expected += code_at(a, j) * code_at(b, j);
        for (const auto& [name, kernel] : kernels) {
          EXPECT_EQ(kernel(a.data(), b.data(), bytes), expected) << name << ", " << bytes << " bytes, codes " << lowest << ".." << highest;
          EXPECT_EQ(kernel(b.data(), a.data(), bytes), expected) << name << ", " << bytes << " bytes, the other way round";
        }
        EXPECT_EQ(sketch_code_dot(a.data(), b.data(), bytes), expected) << "the chosen kernel, " << bytes << " bytes";
      }
    }
  }
}

}  // namespace
}  // namespace weave::order
