#include "order/knn_graph.hpp"

#include <algorithm>
#include <cmath>
#include <optional>

#include <fmt/format.h>

#include "mpi/collective_error.hpp"
#include "order/graph_from_pairs.hpp"
#include "weave/error.hpp"

namespace weave::order {

namespace {

/// Pairs handed to the exchange per round and rank: the records in flight stay bounded (16 MiB
/// sent and about as much received per round) whatever the graph's size.
std::int64_t default_pairs_per_round = std::int64_t{1} << 19;

}  // namespace

void set_graph_pairs_per_round(std::int64_t pairs) { default_pairs_per_round = std::max<std::int64_t>(1, pairs); }

LocalGraph build_knn_graph(const mpi::Comm& comm, std::int64_t num_docs, BlockRange range, const knn::KnnLists& lists) {
  const int k = lists.k;
  mpi::collectively(comm, [&] {
    for (std::int64_t i = 0; i < range.size(); ++i)
      for (int j = 0; j < k; ++j) {
        const std::int64_t u = range.begin + i, v = lists.neighbors[i * k + j];
        const float w = lists.similarities[i * k + j];
        if (v >= 0 && (v >= num_docs || v == u || !std::isfinite(w)))
          throw UserError(fmt::format("knn lists: document {} has an invalid neighbour {} (similarity {})", u, v, w),
                          u);
      }
  });
  const auto entries = static_cast<std::int64_t>(lists.neighbors.size());
  return build_graph_of(comm, num_docs, range, entries, [&](std::int64_t x) -> std::optional<WeightedPair> {
    const std::int64_t v = lists.neighbors[x];
    if (v < 0) return std::nullopt;
    return WeightedPair{range.begin + x / k, v, lists.similarities[x]};
  }, {}, default_pairs_per_round);
}

LocalGraph build_graph_from_pairs(const mpi::Comm& comm, std::int64_t num_docs, BlockRange range,
                                  const std::vector<WeightedPair>& pairs, std::vector<std::int64_t> owner_offsets) {
  return build_graph_of(comm, num_docs, range, static_cast<std::int64_t>(pairs.size()),
                        [&](std::int64_t x) -> std::optional<WeightedPair> { return pairs[x]; }, std::move(owner_offsets),
                        default_pairs_per_round);
}

std::int64_t LocalGraph::slot_of(std::int64_t local, std::int64_t other) const {
  // A kNN document has ~2k slots: a scan of their few contiguous cache lines, no indirection (at
  // 10^7 documents the greedy spent 40% of its time here, in cache misses on the document more than
  // in the search: a binary search measured the same; prefetching is what helped).
  const std::int64_t begin = offsets[local], end = offsets[local + 1];
  if (end - begin <= kScanSlots) {
    for (std::int64_t s = begin; s < end; ++s)
      if (neighbor[s] == other) return s;
    return -1;
  }
  const auto h = std::lower_bound(hubs.begin(), hubs.end(), local) - hubs.begin();
  auto first = hub_slots.begin() + hub_offsets[h], last = hub_slots.begin() + hub_offsets[h + 1];
  auto it = std::lower_bound(first, last, other, [&](std::int64_t slot, std::int64_t id) { return neighbor[slot] < id; });
  return it != last && neighbor[*it] == other ? *it : -1;
}

}  // namespace weave::order
