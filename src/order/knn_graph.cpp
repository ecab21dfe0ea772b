#include "order/knn_graph.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <numeric>

#include <fmt/format.h>

#include "mpi/collective_error.hpp"
#include "weave/error.hpp"

namespace weave::order {

LocalGraph build_knn_graph(const mpi::Comm& comm, std::int64_t num_docs, BlockRange range, const knn::KnnLists& lists) {
  std::vector<std::int64_t> sources(static_cast<std::size_t>(range.size()));
  for (std::int64_t i = 0; i < range.size(); ++i) sources[i] = range.begin + i;
  return build_graph_from_lists(comm, num_docs, range, sources, lists.k, lists.neighbors, lists.similarities);
}

LocalGraph build_graph_from_lists(const mpi::Comm& comm, std::int64_t num_docs, BlockRange range,
                                  const std::vector<std::int64_t>& sources, int k,
                                  const std::vector<std::int64_t>& ids, const std::vector<float>& sims) {
  std::vector<WeightedPair> pairs;
  mpi::collectively(comm, [&] {
    for (std::size_t i = 0; i < sources.size(); ++i) {
      const std::int64_t u = sources[i];
      for (int j = 0; j < k; ++j) {
        const std::int64_t v = ids[i * k + j];
        const float w = sims[i * k + j];
        if (v < 0) continue;
        if (v >= num_docs || v == u || !std::isfinite(w))
          throw UserError(fmt::format("knn lists: document {} has an invalid neighbour {} (similarity {})", u, v, w),
                          u);
        pairs.push_back({u, v, w});
      }
    }
  });
  return build_graph_from_pairs(comm, num_docs, range, pairs);
}

LocalGraph build_graph_from_pairs(const mpi::Comm& comm, std::int64_t num_docs, BlockRange range,
                                  const std::vector<WeightedPair>& pairs, std::vector<std::int64_t> owner_offsets) {
  const std::int64_t n_local = range.size();
  LocalGraph g;
  g.num_docs = num_docs;
  g.ranks = comm.size();
  g.range = range;
  g.owner_offsets = std::move(owner_offsets);
  // Directed edges (owner-side doc, other doc, weight bits), sent to the owner of each end.
  std::vector<std::vector<std::int64_t>> send(static_cast<std::size_t>(comm.size()));
  for (const auto& [u, v, w] : pairs) {
    const std::int64_t bits = std::bit_cast<std::uint32_t>(w);
    for (auto [from, to] : {std::pair{u, v}, std::pair{v, u}}) {
      auto& out = send[g.owner(from)];
      out.insert(out.end(), {from, to, bits});
    }
  }
  const auto received = comm.alltoallv(send);
  send = {};
  struct Directed {
    std::int64_t to;
    float w;
  };
  // Bucketed by document (a counting sort: O(edges), not a sort of all of them), then each
  // document's few edges: by neighbour, the largest weight of a pair kept, then heaviest first.
  std::vector<std::int64_t> first(static_cast<std::size_t>(n_local + 1), 0);
  for (const auto& part : received)
    for (std::size_t x = 0; x + 2 < part.size(); x += 3) ++first[part[x] - range.begin + 1];
  for (std::int64_t i = 0; i < n_local; ++i) first[i + 1] += first[i];
  std::vector<Directed> edges(static_cast<std::size_t>(first[n_local]));
  {
    std::vector<std::int64_t> next(first.begin(), first.end() - 1);
    for (const auto& part : received)
      for (std::size_t x = 0; x + 2 < part.size(); x += 3)
        edges[next[part[x] - range.begin]++] = {part[x + 1], std::bit_cast<float>(static_cast<std::uint32_t>(part[x + 2]))};
  }
  g.offsets.assign(static_cast<std::size_t>(n_local + 1), 0);
  g.neighbor.reserve(edges.size());
  g.weight.reserve(edges.size());
  for (std::int64_t i = 0; i < n_local; ++i) {
    const auto begin = edges.begin() + first[i], end = edges.begin() + first[i + 1];
    std::sort(begin, end, [](const Directed& x, const Directed& y) { return x.to != y.to ? x.to < y.to : x.w > y.w; });
    const auto last = std::unique(begin, end, [](const Directed& x, const Directed& y) { return x.to == y.to; });
    const std::int64_t doc = range.begin + i;
    std::sort(begin, last, [doc](const Directed& x, const Directed& y) {
      return heavier(Edge::make(doc, x.to, x.w), Edge::make(doc, y.to, y.w));
    });
    for (auto e = begin; e != last; ++e) {
      g.neighbor.push_back(e->to);
      g.weight.push_back(e->w);
    }
    g.offsets[i + 1] = static_cast<std::int64_t>(g.neighbor.size());
  }
  g.by_neighbor.resize(g.neighbor.size());
  for (std::int64_t i = 0; i < n_local; ++i) {
    auto first = g.by_neighbor.begin() + g.offsets[i], last = g.by_neighbor.begin() + g.offsets[i + 1];
    std::iota(first, last, g.offsets[i]);
    std::sort(first, last, [&](std::int64_t x, std::int64_t y) { return g.neighbor[x] < g.neighbor[y]; });
  }
  return g;
}

int LocalGraph::owner(std::int64_t doc) const {
  if (owner_offsets.empty()) return block_owner(num_docs, ranks, GlobalId(doc));
  return static_cast<int>(std::upper_bound(owner_offsets.begin(), owner_offsets.end(), doc) - owner_offsets.begin()) - 1;
}

std::int64_t LocalGraph::slot_of(std::int64_t local, std::int64_t other) const {
  auto first = by_neighbor.begin() + offsets[local], last = by_neighbor.begin() + offsets[local + 1];
  auto it = std::lower_bound(first, last, other, [&](std::int64_t slot, std::int64_t id) { return neighbor[slot] < id; });
  return it != last && neighbor[*it] == other ? *it : -1;
}

}  // namespace weave::order
