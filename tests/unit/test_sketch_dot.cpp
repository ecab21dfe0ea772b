// order::sketch_code_dot (an AVX2 kernel where the CPU has it) against the codes decoded one by one:
// the same integer for any dimension (the vector loop's 32-byte steps and the bytes after them),
// any nibbles (the codes' extremes, and -8, which no sketch holds but the kernel must not mind),
// and the same from either end.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "order/row_sketches.hpp"
#include "util/random.hpp"

namespace weave::order {
namespace {

/// Code j of a sketch: nibble j of its bytes (low nibble first), 4-bit two's complement.
std::int64_t code_at(const std::vector<std::uint32_t>& record, std::int64_t j) {
  const std::uint32_t word = record[static_cast<std::size_t>(j / 8)];
  const auto nibble = static_cast<std::int64_t>((word >> (4 * (j % 8))) & 0xf);
  return nibble >= 8 ? nibble - 16 : nibble;
}

/// Random codes in the record's first d nibbles, 0 after them (as a sketch pads), the scale word last.
std::vector<std::uint32_t> random_record(std::int64_t d, std::uint64_t seed, int lowest, int highest) {
  std::vector<std::uint32_t> record(static_cast<std::size_t>(RowSketches::words_for(d)), 0);
  for (std::int64_t j = 0; j < d; ++j) {
    const auto span = static_cast<std::uint64_t>(highest - lowest + 1);
    const auto code = static_cast<std::int32_t>(util::mix64(seed * 1000003 + static_cast<std::uint64_t>(j)) % span) + lowest;
    record[static_cast<std::size_t>(j / 8)] |= (static_cast<std::uint32_t>(code) & 0xfu) << (4 * (j % 8));
  }
  record.back() = 0x3f800000u;  // a scale of 1: the kernel must read codes only
  return record;
}

TEST(SketchCodeDot, EqualsTheDecodedCodesDotProduct) {
  for (std::int64_t d : {1, 2, 7, 8, 63, 64, 65, 127, 128, 129, 255, 383, 768, 1001, 4096}) {
    for (auto [lowest, highest] : {std::pair{-7, 7}, std::pair{-8, 7}, std::pair{7, 7}, std::pair{-7, -7}, std::pair{-8, -8}}) {
      for (std::uint64_t seed = 1; seed <= 3; ++seed) {
        const auto a = random_record(d, seed, lowest, highest), b = random_record(d, seed + 100, lowest, highest);
        std::int64_t expected = 0;
        for (std::int64_t j = 0; j < d; ++j) expected += code_at(a, j) * code_at(b, j);
        EXPECT_EQ(sketch_code_dot(a.data(), b.data(), d), expected) << "d " << d << ", codes " << lowest << ".." << highest;
        EXPECT_EQ(sketch_code_dot(b.data(), a.data(), d), expected) << "d " << d << ", the other way round";
      }
    }
  }
}

}  // namespace
}  // namespace weave::order
