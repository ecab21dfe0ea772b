#include "order/iclm.hpp"

#include <algorithm>
#include <numeric>

#include <fmt/format.h>

#include "mpi/collective_error.hpp"
#include "util/log.hpp"
#include "util/memory.hpp"
#include "weave/error.hpp"

namespace weave::order {

IclmOrder iclm_sequential(std::int64_t n, const std::vector<std::int64_t>& offsets,
                          const std::vector<std::int64_t>& neighbor) {
  IclmOrder out;
  std::vector<std::int64_t> by_degree(static_cast<std::size_t>(n));
  std::iota(by_degree.begin(), by_degree.end(), 0);
  std::stable_sort(by_degree.begin(), by_degree.end(), [&](std::int64_t a, std::int64_t b) {
    return offsets[a + 1] - offsets[a] < offsets[b + 1] - offsets[b];
  });
  std::vector<std::uint8_t> visited(static_cast<std::size_t>(n), 0);
  std::size_t next_start = 0;
  out.order.reserve(static_cast<std::size_t>(n));
  while (static_cast<std::int64_t>(out.order.size()) < n) {
    while (visited[by_degree[next_start]]) ++next_start;
    std::int64_t cur = by_degree[next_start];
    out.restarts.push_back(static_cast<std::int64_t>(out.order.size()));
    while (cur >= 0) {
      visited[cur] = 1;
      out.order.push_back(cur);
      std::int64_t next = -1;
      for (std::int64_t s = offsets[cur]; s < offsets[cur + 1]; ++s)  // heaviest first
        if (!visited[neighbor[s]]) {
          next = neighbor[s];
          break;
        }
      cur = next;
    }
  }
  return out;
}

IclmOrder iclm_order(const mpi::Comm& comm, const LocalGraph& g) {
  // Rank 0 will hold every edge (8 bytes) and ~33 bytes per document (degrees, offsets, the degree
  // order, visited marks, the order): refuse before gathering if that cannot fit.
  const auto edges = comm.sum(static_cast<std::int64_t>(g.neighbor.size()));
  const double needed = 8.0 * static_cast<double>(edges) + 33.0 * static_cast<double>(g.num_docs);
  mpi::collectively(comm, [&] {
    if (!comm.is_root()) return;
    const auto available = util::available_memory_bytes();
    if (available && needed > *available)
      throw UserError(fmt::format("--algorithm iclm gathers the whole kNN graph on rank 0: about {} for {} edges, "
                                  "but rank 0 has {} available; use --algorithm greedy (distributed, O(N/P) per "
                                  "rank) or a node with more memory",
                                  util::format_bytes(needed), edges, util::format_bytes(*available)));
  });
  // Gather the adjacency (already sorted heaviest first per document) on rank 0.
  std::vector<std::int64_t> degrees(static_cast<std::size_t>(g.range.size()));
  for (std::int64_t i = 0; i < g.range.size(); ++i) degrees[i] = g.degree(i);
  const auto all_degrees = comm.gatherv<std::int64_t>(degrees, 0);
  const auto all_neighbors = comm.gatherv<std::int64_t>(g.neighbor, 0);
  if (!comm.is_root()) return {};
  std::vector<std::int64_t> offsets(static_cast<std::size_t>(g.num_docs + 1), 0);
  for (std::int64_t v = 0; v < g.num_docs; ++v) offsets[v + 1] = offsets[v] + all_degrees[v];
  return iclm_sequential(g.num_docs, offsets, all_neighbors);
}

}  // namespace weave::order
