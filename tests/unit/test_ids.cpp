#include <gtest/gtest.h>

#include "weave/error.hpp"
#include "weave/ids.hpp"

namespace weave {
namespace {

TEST(BlockRange, PartitionsEveryIdOnceInRankOrder) {
  for (std::int64_t n : {0, 1, 2, 5, 7, 100, 101, 1000003}) {
    for (int size : {1, 2, 3, 5, 8, 11}) {
      std::int64_t expected_begin = 0;
      const std::vector<std::int64_t> starts = block_starts(n, size);
      ASSERT_EQ(starts.size(), static_cast<std::size_t>(size));
      for (int r = 0; r < size; ++r) {
        const BlockRange b = block_range(n, size, r);
        EXPECT_EQ(b.begin, expected_begin) << "n=" << n << " size=" << size << " rank=" << r;
        EXPECT_EQ(starts[r], expected_begin) << "block_starts, n=" << n << " size=" << size << " rank=" << r;
        EXPECT_GE(b.size(), n / size);
        EXPECT_LE(b.size(), n / size + 1);
        expected_begin = b.end;
      }
      EXPECT_EQ(expected_begin, n);
    }
  }
}

TEST(BlockRange, OwnerIsTheInverse) {
  for (std::int64_t n : {1, 2, 5, 7, 100, 101, 997}) {
    for (int size : {1, 2, 3, 5, 8, 11}) {
      for (std::int64_t g = 0; g < n; ++g) {
        const int owner = block_owner(n, size, GlobalId(g));
        ASSERT_TRUE(block_range(n, size, owner).contains(GlobalId(g))) << "n=" << n << " size=" << size << " g=" << g;
      }
    }
  }
}

TEST(BlockRange, BlockOwnersInvertBlockRange) {  // block_owner is BlockOwners with a range check
  for (std::int64_t n : {1, 2, 5, 7, 100, 101, 997}) {
    for (int size : {1, 2, 3, 5, 8, 11, 64}) {
      const BlockOwners owners(n, size);
      for (std::int64_t g = 0; g < n; ++g)
        ASSERT_TRUE(block_range(n, size, owners(GlobalId(g))).contains(GlobalId(g)))
            << "n=" << n << " size=" << size << " g=" << g;
    }
  }
  // Large corpora: every block's first and last ids and their neighbours, where rounding would show.
  for (std::int64_t n : {std::int64_t{1000000007}, std::int64_t{1} << 40, (std::int64_t{1} << 50) + 12345}) {
    for (int size : {2, 3, 7, 64, 1000, 4099}) {
      const BlockOwners owners(n, size);
      for (int r = 0; r < size; ++r) {
        const BlockRange b = block_range(n, size, r);
        for (std::int64_t g : {b.begin, b.begin + 1, b.end - 2, b.end - 1, (b.begin + b.end) / 2})
          ASSERT_EQ(owners(GlobalId(g)), r) << "n=" << n << " size=" << size << " g=" << g;
      }
    }
  }
}

TEST(BlockRange, LocalGlobalConversionsCheckOwnership) {
  const BlockRange b = block_range(10, 3, 1);  // [4, 7)
  EXPECT_EQ(b.begin, 4);
  EXPECT_EQ(b.end, 7);
  EXPECT_EQ(b.to_local(GlobalId(5)), LocalId(1));
  EXPECT_EQ(b.to_global(LocalId(2)), GlobalId(6));
  EXPECT_THROW(b.to_local(GlobalId(7)), InternalError);
  EXPECT_THROW(b.to_global(LocalId(3)), InternalError);
  EXPECT_THROW(block_owner(10, 3, GlobalId(10)), InternalError);
}

}  // namespace
}  // namespace weave
