// util::release frees a container's memory now, where `v = {}` keeps a std::vector's capacity.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "util/large_buffer.hpp"
#include "util/release.hpp"
#include "util/uninit_vector.hpp"

namespace weave::util {
namespace {

template <typename Vector>
void expect_released() {
  Vector v(1 << 20);
  v = {};
  // The pitfall release() exists for: assigning an empty brace list keeps the capacity.
  EXPECT_GE(v.capacity(), std::size_t{1} << 20);
  release(v);
  EXPECT_EQ(v.capacity(), 0u);
  EXPECT_TRUE(v.empty());
}

TEST(Release, FreesTheCapacityOfEveryVectorKind) {
  expect_released<std::vector<std::int64_t>>();
  expect_released<UninitVector<std::int64_t>>();
  expect_released<LargeVector<std::int64_t>>();
}

TEST(Release, LeavesAVectorReadyForUse) {
  std::vector<std::vector<int>> boxes(4, std::vector<int>(100, 1));
  release(boxes);
  EXPECT_EQ(boxes.capacity(), 0u);
  boxes.resize(2);
  EXPECT_EQ(boxes.size(), 2u);
}

}  // namespace
}  // namespace weave::util
