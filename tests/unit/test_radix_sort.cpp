// util::radix_sort_by_key against std::stable_sort: the same order, records of one key in their
// first order, for key ranges that take one, two and three passes.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "util/radix_sort.hpp"
#include "util/random.hpp"

namespace weave::util {
namespace {

struct Record {
  std::uint64_t key;
  std::size_t first_place;  ///< where it was before sorting: equal keys must keep this order
};

void expect_like_stable_sort(std::size_t count, std::uint64_t key_end, std::uint64_t seed) {
  std::vector<Record> records(count);
  for (std::size_t x = 0; x < count; ++x) records[x] = {mix64(seed + x) % key_end, x};
  std::vector<Record> expected = records;
  std::stable_sort(expected.begin(), expected.end(), [](const Record& a, const Record& b) { return a.key < b.key; });
  radix_sort_by_key(records, key_end, [](const Record& r) { return r.key; });
  ASSERT_EQ(records.size(), expected.size());
  for (std::size_t x = 0; x < count; ++x) {
    EXPECT_EQ(records[x].key, expected[x].key) << "at " << x << ", keys below " << key_end;
    EXPECT_EQ(records[x].first_place, expected[x].first_place) << "at " << x << ", keys below " << key_end;
  }
}

TEST(RadixSort, OrdersLikeStableSortInOneTwoAndThreePasses) {
  expect_like_stable_sort(5000, 1, 1);                        // one key: nothing moves
  expect_like_stable_sort(5000, 7, 2);                        // many repeats, one pass
  expect_like_stable_sort(5000, 2048, 3);                     // 11 bits, one pass
  expect_like_stable_sort(20000, 1000003, 4);                 // 20 bits, two passes
  expect_like_stable_sort(20000, std::uint64_t{1} << 33, 5);  // 33 bits, three passes (copied back)
  expect_like_stable_sort(20000, std::uint64_t{5} << 40, 6);  // 43 bits, four passes
}

TEST(RadixSort, TakesEmptyAndSingleRecords) {
  std::vector<Record> none;
  radix_sort_by_key(none, 10, [](const Record& r) { return r.key; });
  EXPECT_TRUE(none.empty());
  std::vector<Record> one{{3, 0}};
  radix_sort_by_key(one, 10, [](const Record& r) { return r.key; });
  EXPECT_EQ(one[0].key, 3u);
}

}  // namespace
}  // namespace weave::util
