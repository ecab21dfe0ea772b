// The traversal of the ICLM paper (Shi et al. 2023, Algorithm 1), kept as a baseline: start at a
// minimum-degree unvisited document, repeatedly move to the most similar unvisited neighbour,
// restart at a minimum-degree unvisited document when there is none. Sequential on rank 0: the
// whole graph is gathered there (O(N k) memory on rank 0 — a documented limit of this mode).
#pragma once

#include <cstdint>
#include <vector>

#include "order/knn_graph.hpp"

namespace weave::order {

struct IclmOrder {
  std::vector<std::int64_t> order;     ///< on rank 0: all N documents; empty elsewhere
  std::vector<std::int64_t> restarts;  ///< on rank 0: positions where a new walk starts (0 first)
};

/// Collective. Degree = number of distinct neighbours in the undirected graph; ties broken by id;
/// "most similar" follows the edge order of src/order/edge.hpp.
IclmOrder iclm_order(const mpi::Comm& comm, const LocalGraph& graph);

/// The same on a whole graph held by one process (adjacency sorted heaviest first).
IclmOrder iclm_sequential(std::int64_t n, const std::vector<std::int64_t>& offsets,
                          const std::vector<std::int64_t>& neighbor);

}  // namespace weave::order
