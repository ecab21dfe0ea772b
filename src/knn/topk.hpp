// The running k best neighbours of each query, and the one definition of "similarity".
//
// Similarity is canonical: the dot product of the two L2-normalised float32 rows, accumulated in
// float64 in a fixed order, rounded to float. It depends on nothing but the two rows, so results do
// not change with the rank count, the tiling or the backend. Fast backends (BLAS, tensor cores) only
// propose candidates; a candidate whose fast similarity is within `slack` of the current k-th best
// is re-scored canonically and admitted if it beats the k-th best in the total order
// (similarity desc, global id asc). With slack >= the backend's error bound this is exact.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <limits>
#include <vector>

#include <faiss/utils/Heap.h>

#include "weave/ids.hpp"

namespace weave::knn {

/// Partial sums of the canonical similarity: element j goes to partial (j / 4) mod 32.
inline constexpr int kCanonicalPartials = 32;

/// The canonical cosine similarity of two unit rows of dimension d. The order is the one a GPU warp
/// computes with coalesced 16-byte loads (lane l takes elements 4l..4l+3, then 4l+128.., in
/// ascending order; the 32 partial sums are combined by halving), so the GPU backend computes the
/// same bits (knn/cuda/select_kernels.cu). Float products are exact in float64, so FMA or not
/// makes no difference.
inline float canonical_similarity(const float* a, const float* b, std::int64_t d) {
  constexpr std::int64_t kBlock = 4 * kCanonicalPartials;  // four elements for every partial
  double partial[kCanonicalPartials] = {};
  std::int64_t j = 0;
  // Whole blocks with fixed trip counts (the compiler keeps 32 independent sums in flight, as fast
  // as one sequential sum), then the rest element by element; the order within a partial is the same.
  for (; j + kBlock <= d; j += kBlock)
    for (int l = 0; l < kCanonicalPartials; ++l)
      for (int e = 0; e < 4; ++e)
        partial[l] += static_cast<double>(a[j + 4 * l + e]) * static_cast<double>(b[j + 4 * l + e]);
  for (; j < d; ++j)
    partial[(j / 4) % kCanonicalPartials] += static_cast<double>(a[j]) * static_cast<double>(b[j]);
  for (int half = kCanonicalPartials / 2; half >= 1; half /= 2)
    for (int l = 0; l < half; ++l) partial[l] += partial[l + half];
  return static_cast<float>(partial[0]);
}

/// A bound on |float32 dot - exact dot| for unit rows of dimension d (any summation order, with or
/// without FMA), plus the rounding of the canonical value: gamma_d + 2u, with margin.
inline float float_dot_error_bound(std::int64_t d) {
  return static_cast<float>(1.05 * static_cast<double>(d + 2) * 0x1.0p-24 + 1e-7);
}

/// The entries of one query's row of fast scores that can still enter its list, ascending:
/// scores[b] >= bar, b != skip (the query itself, or -1). `bar` comes in as the list's threshold
/// minus `slack` and is raised to the row's own k-th best score minus 2 slack (k >= 1: the list's
/// length, plus one where the query itself may be in the row unskipped), where more than k entries
/// reach it: k entries score at least that, so their canonical similarities are >= it + slack, above
/// anything scoring below it. Without this, a list that is still filling re-scores every entry that
/// beats its momentary k-th best (about k ln(n/k) per row and tile: most of a small search's time,
/// as in stitching's levels). The k-th best is found in one pass over those entries that keeps the
/// k best so far (after the first k an entry gets in only by beating the k-th, about k ln(n/k) times
/// a row): a selection over a copy of their scores (std::nth_element) cost ~5 ns an entry, half of
/// stitching's time among 7,500 ends of 32 dimensions. `scratch` is the caller's, to keep the row
/// loop free of allocations.
inline void row_candidates(const float* scores, std::int64_t nb, std::int64_t skip, int k, float slack, float& bar,
                           std::vector<std::int32_t>& out, std::vector<float>& scratch) {
  out.clear();
  const float floor = bar;
  // Once a list is full few entries of a row reach its bar: a block of entries is looked at one by
  // one only where one does (the block's test compiles to vector compares; the scan was most of a
  // search's time beside the GEMM at d = 64).
  constexpr std::int64_t kBlock = 16;
  std::int64_t b = 0;
  for (; b + kBlock <= nb; b += kBlock) {
    int reaching = 0;
    for (std::int64_t j = 0; j < kBlock; ++j) reaching += scores[b + j] >= floor ? 1 : 0;
    if (reaching == 0) continue;
    for (std::int64_t j = b; j < b + kBlock; ++j)
      if (scores[j] >= floor && j != skip) out.push_back(static_cast<std::int32_t>(j));
  }
  for (; b < nb; ++b)
    if (scores[b] >= floor && b != skip) out.push_back(static_cast<std::int32_t>(b));
  if (k < 1 || out.size() <= static_cast<std::size_t>(k)) return;
  // The k-th best of them: the first k sorted (descending), then each later one that beats the k-th
  // takes its place in order.
  std::vector<float>& best = scratch;
  best.resize(static_cast<std::size_t>(k));
  for (int x = 0; x < k; ++x) best[x] = scores[out[x]];
  std::sort(best.begin(), best.end(), std::greater<>());
  float kth = best[k - 1];
  for (std::size_t x = static_cast<std::size_t>(k); x < out.size(); ++x) {
    const float s = scores[out[x]];
    if (!(s > kth)) continue;
    int at = k - 1;
    for (; at > 0 && best[at - 1] < s; --at) best[at] = best[at - 1];
    best[at] = s;
    kth = best[k - 1];
  }
  const float raised = kth - 2 * slack;
  if (raised <= bar) return;
  bar = raised;
  std::erase_if(out, [&](std::int32_t b) { return scores[b] < raised; });
}

/// Per query a faiss min-heap of size k over (similarity, -global id): the root is the worst kept
/// neighbour (lowest similarity; among equal similarities the largest id), exactly our total order.
class TopK {
 public:
  TopK(std::int64_t num_queries, int k);

  int k() const { return k_; }
  std::int64_t num_queries() const { return nq_; }

  /// The similarity a candidate must reach to possibly enter query q's list (-inf while not full).
  float threshold(std::int64_t q) const {
    return count_[q] < k_ ? -std::numeric_limits<float>::infinity() : values_[q * k_];
  }
  /// Offers a candidate with its canonical similarity; keeps it if it beats the worst kept one.
  void offer(std::int64_t q, float similarity, GlobalId id);

  /// Sorted lists: ids[q*k + j], sims[q*k + j], best first; missing entries are -1 / NaN.
  void finish(std::vector<std::int64_t>& ids, std::vector<float>& sims);

 private:
  std::int64_t nq_;
  int k_;
  std::vector<float> values_;
  std::vector<std::int64_t> labels_;  ///< -global id, so faiss's tie order matches ours
  std::vector<int> count_;
};

}  // namespace weave::knn
