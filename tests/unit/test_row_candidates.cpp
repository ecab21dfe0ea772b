// knn::row_candidates (knn/topk.hpp): the entries of a row of fast scores that a query's list may
// still take. Fast scores are drawn within `slack` of true ones; whatever the noise, every entry of
// the true top k (similarity desc, index asc) must be among the candidates — the oracle is a sort of
// the true values — and a spread-out row must leave only a few more than k to re-score.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <limits>
#include <numeric>
#include <vector>

#include "knn/topk.hpp"
#include "util/random.hpp"

namespace weave {
namespace {

std::vector<std::int32_t> true_top(const std::vector<float>& truth, int k, std::int64_t skip) {
  std::vector<std::int32_t> order(truth.size());
  std::iota(order.begin(), order.end(), 0);
  std::erase(order, static_cast<std::int32_t>(skip));
  std::stable_sort(order.begin(), order.end(), [&](std::int32_t x, std::int32_t y) { return truth[x] > truth[y]; });
  order.resize(std::min<std::size_t>(order.size(), static_cast<std::size_t>(k)));
  return order;
}

TEST(RowCandidates, KeepEveryEntryOfTheTrueTopKWhateverTheNoise) {
  const float slack = knn::float_dot_error_bound(768);
  std::vector<std::int32_t> picked;
  std::vector<float> scratch;
  std::int64_t total_picked = 0, rows = 0;
  for (int trial = 0; trial < 400; ++trial) {
    util::CounterRng rng(11, 2, static_cast<std::uint64_t>(trial));
    const int n = 1 + trial % 300, k = 1 + trial % 12;
    const bool crowded = trial % 4 == 0;  // true values within a few slacks of each other: many ties
    std::vector<float> truth(n), fast(n);
    for (int b = 0; b < n; ++b) {
      truth[b] = crowded ? 0.5f + slack * static_cast<float>(static_cast<int>(rng.uniform() * 6))
                         : static_cast<float>(rng.uniform() * 2 - 1);
      fast[b] = truth[b] + slack * static_cast<float>(rng.uniform() * 2 - 1);
    }
    const std::int64_t skip = trial % 3 == 0 ? trial % n : -1;
    float bar = trial % 5 == 0 ? -0.2f : -std::numeric_limits<float>::infinity();  // a list already holding some
    const float floor_in = bar;
    knn::row_candidates(fast.data(), n, skip, k, slack, bar, picked, scratch);
    EXPECT_GE(bar, floor_in);
    EXPECT_TRUE(std::is_sorted(picked.begin(), picked.end()));
    EXPECT_EQ(std::find(picked.begin(), picked.end(), skip), picked.end());
    for (std::int32_t b : picked) EXPECT_GE(fast[b], bar);
    for (std::int32_t b : true_top(truth, k, skip))
      if (truth[b] >= floor_in + slack)  // could enter the list (the bar came in as its threshold - slack)
        EXPECT_NE(std::find(picked.begin(), picked.end(), b), picked.end()) << "trial " << trial << " entry " << b;
    if (!crowded && floor_in < -1) total_picked += static_cast<std::int64_t>(picked.size()) - std::min(k, n - 1), ++rows;
  }
  // Spread-out rows: only the entries within 2 slacks of the k-th best remain beyond k.
  EXPECT_LT(static_cast<double>(total_picked) / static_cast<double>(rows), 1.0);
}

/// The definition, written out: every entry reaching the bar; where more than k do, the bar rises to
/// the k-th best of them (a sort of their scores) less 2 slack, if that is higher.
void reference_candidates(const std::vector<float>& scores, std::int64_t skip, int k, float slack, float& bar,
                          std::vector<std::int32_t>& out) {
  out.clear();
  std::vector<float> reaching;
  for (std::size_t b = 0; b < scores.size(); ++b)
    if (scores[b] >= bar && static_cast<std::int64_t>(b) != skip) reaching.push_back(scores[b]);
  if (reaching.size() > static_cast<std::size_t>(k)) {
    std::sort(reaching.begin(), reaching.end(), std::greater<>());
    bar = std::max(bar, reaching[k - 1] - 2 * slack);
  }
  for (std::size_t b = 0; b < scores.size(); ++b)
    if (scores[b] >= bar && static_cast<std::int64_t>(b) != skip) out.push_back(static_cast<std::int32_t>(b));
}

TEST(RowCandidates, PickAndRaiseTheBarAsTheDefinitionSays) {
  std::vector<std::int32_t> picked, expected;
  std::vector<float> scratch;
  for (int trial = 0; trial < 2000; ++trial) {
    util::CounterRng rng(12, 3, static_cast<std::uint64_t>(trial));
    const int n = 1 + trial % 500, k = 1 + trial % 17;
    // Scores on a coarse grid half of the time: many equal to the k-th best.
    const bool grid = trial % 2 == 0;
    std::vector<float> scores(n);
    for (auto& x : scores)
      x = grid ? static_cast<float>(static_cast<int>(rng.uniform() * 8)) / 8 : static_cast<float>(rng.uniform() * 2 - 1);
    const std::int64_t skip = trial % 3 == 0 ? trial % n : -1;
    const float bar_in = trial % 5 == 0 ? 0.25f : -std::numeric_limits<float>::infinity();
    const float slack = trial % 7 == 0 ? 0.0f : 1e-3f;
    float bar = bar_in, expected_bar = bar_in;
    knn::row_candidates(scores.data(), n, skip, k, slack, bar, picked, scratch);
    reference_candidates(scores, skip, k, slack, expected_bar, expected);
    ASSERT_EQ(bar, expected_bar) << "trial " << trial;
    ASSERT_EQ(picked, expected) << "trial " << trial;
  }
}

TEST(RowCandidates, WithKOrFewerAboveTheBarAllStayAndTheBarStands) {
  std::vector<std::int32_t> picked;
  std::vector<float> scratch;
  const std::vector<float> fast{0.1f, 0.9f, 0.5f};
  float bar = 0.2f;
  knn::row_candidates(fast.data(), 3, -1, 2, 1e-4f, bar, picked, scratch);
  EXPECT_EQ(picked, (std::vector<std::int32_t>{1, 2}));
  EXPECT_EQ(bar, 0.2f);
}

}  // namespace
}  // namespace weave
