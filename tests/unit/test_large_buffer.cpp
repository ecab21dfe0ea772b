// LargeVector: blocks from kLargeBlockBytes on are huge-page aligned, smaller ones are ordinary;
// the vector keeps its contents when it grows across the threshold and shrinks back.
#include <gtest/gtest.h>

#include <cstdint>
#include <numeric>

#include "util/large_buffer.hpp"

namespace weave::util {
namespace {

constexpr std::size_t kHugePage = std::size_t{2} << 20;

bool huge_page_aligned(const void* p) { return reinterpret_cast<std::uintptr_t>(p) % kHugePage == 0; }

TEST(LargeVector, LargeBlocksAreHugePageAligned) {
  const std::size_t n = kLargeBlockBytes / sizeof(std::int64_t) + 3;  // just above the threshold
  LargeVector<std::int64_t> v(n);
  EXPECT_TRUE(huge_page_aligned(v.data()));
  std::iota(v.begin(), v.end(), std::int64_t{0});
  EXPECT_EQ(v[n - 1], static_cast<std::int64_t>(n - 1));
}

TEST(LargeVector, GrowsAcrossTheThresholdKeepingItsContents) {
  LargeVector<std::int32_t> v;
  const std::size_t n = 3 * kLargeBlockBytes / sizeof(std::int32_t);
  for (std::size_t i = 0; i < n; ++i) v.push_back(static_cast<std::int32_t>(i * 7));  // small blocks, then large
  EXPECT_TRUE(huge_page_aligned(v.data()));
  for (std::size_t i = 0; i < n; i += 4099) ASSERT_EQ(v[i], static_cast<std::int32_t>(i * 7));
  v.resize(10);
  v.shrink_to_fit();  // back to an ordinary block, freed by the matching path
  EXPECT_EQ(v.capacity(), 10u);
  EXPECT_EQ(v[9], 63);
  const LargeVector<std::int32_t> copy = v;
  EXPECT_EQ(copy, v);
}

TEST(LargeVector, EmptyAndSmallVectorsWork) {
  LargeVector<double> empty;
  EXPECT_TRUE(empty.empty());
  LargeVector<double> small(100, 1.5);
  EXPECT_EQ(std::accumulate(small.begin(), small.end(), 0.0), 150.0);
}

}  // namespace
}  // namespace weave::util
