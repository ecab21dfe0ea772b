// Connected components of a distributed undirected graph: every vertex labelled with the smallest
// global id of its component. Min-label hooking with pointer jumping (FastSV, Zhang, Azad & Hu 2020):
// each vertex holds a parent f[v] <= v; every iteration hooks f toward the smallest grandparent
// seen across its edges and shortcuts f[v] = f[f[v]], until no parent changes. Every update is a
// minimum, so the labels — and the number of iterations — are the same at any rank count.
#pragma once

#include <cstdint>
#include <vector>

#include "mpi/comm.hpp"
#include "order/knn_graph.hpp"

namespace weave::dedup {

struct Components {
  std::vector<std::int64_t> label;  ///< per owned vertex: the smallest global id of its component
  int iterations = 0;               ///< hooking + shortcutting rounds until nothing changed
};

/// Collective. graph: each rank's vertices with every incident edge (both directions, as
/// order::build_graph_from_pairs makes it); weights are ignored. Memory O(vertices + edges) per
/// rank; each iteration exchanges O(vertices with an edge + distinct neighbours) ids per rank, in
/// rounds of bounded size.
Components connected_components(const mpi::Comm& comm, const order::LocalGraph& graph);

/// Ids each rank asks for in one exchange round (default 2^22; tests lower it to exercise the rounds).
void set_component_keys_per_round(std::int64_t keys);

}  // namespace weave::dedup
