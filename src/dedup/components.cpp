#include "dedup/components.hpp"

#include <algorithm>
#include <numeric>

#include "mpi/ask_owners.hpp"

namespace weave::dedup {

namespace {
std::int64_t keys_per_round = std::int64_t{1} << 22;
}  // namespace

void set_component_keys_per_round(std::int64_t keys) { keys_per_round = std::max<std::int64_t>(1, keys); }

Components connected_components(const mpi::Comm& comm, const order::LocalGraph& graph) {
  const std::int64_t n_local = graph.range.size();
  const std::int64_t first = graph.range.begin;
  auto owner = [&](std::int64_t id) { return graph.owner(id); };

  // Parents start as the vertices themselves; only vertices with an edge can ever change.
  std::vector<std::int64_t> parent(static_cast<std::size_t>(n_local));
  std::iota(parent.begin(), parent.end(), first);
  std::vector<std::int64_t> active;
  for (std::int64_t v = 0; v < n_local; ++v)
    if (graph.degree(v) > 0) active.push_back(v);
  // The distinct neighbours: their grandparents are asked once per iteration.
  std::vector<std::int64_t> neighbors(graph.neighbor.begin(), graph.neighbor.end());
  std::sort(neighbors.begin(), neighbors.end());
  neighbors.erase(std::unique(neighbors.begin(), neighbors.end()), neighbors.end());
  // Each edge slot's place in `neighbors`, found once (not per iteration).
  std::vector<std::int64_t> slot_index(graph.neighbor.size());
  for (std::size_t s = 0; s < slot_index.size(); ++s)
    slot_index[s] = std::lower_bound(neighbors.begin(), neighbors.end(), graph.neighbor[s]) - neighbors.begin();

  std::vector<std::int64_t> grandparent(static_cast<std::size_t>(n_local));
  std::vector<std::int64_t> asked(active.size());
  const int p = comm.size();
  Components out;
  while (true) {
    ++out.iterations;
    // gf[v] = f[f[v]]: the owner of f[v] answers with its parent.
    for (std::size_t a = 0; a < active.size(); ++a) asked[a] = parent[active[a]];
    const auto gp = mpi::ask_owners_in_rounds<std::int64_t>(
        comm, asked, 1, owner, [&](std::int64_t id, std::int64_t* answer) { *answer = parent[id - first]; },
        keys_per_round);
    std::copy(parent.begin(), parent.end(), grandparent.begin());
    for (std::size_t a = 0; a < active.size(); ++a) grandparent[active[a]] = gp[a];
    // Every neighbour's grandparent, from its owner (a neighbour has an edge: it is active there).
    const auto neighbor_gp = mpi::ask_owners_in_rounds<std::int64_t>(
        comm, neighbors, 1, owner, [&](std::int64_t id, std::int64_t* answer) { *answer = grandparent[id - first]; },
        keys_per_round);

    std::vector<std::int64_t> next = parent;
    std::vector<std::pair<std::int64_t, std::int64_t>> hooks;  // (f[v], smallest grandparent across v's edges)
    hooks.reserve(active.size());
    for (const std::int64_t v : active) {
      std::int64_t smallest = grandparent[v];
      for (std::int64_t s = graph.offsets[v]; s < graph.offsets[v + 1]; ++s)
        smallest = std::min(smallest, neighbor_gp[slot_index[s]]);
      next[v] = std::min(next[v], smallest);  // aggressive hooking and shortcutting
      if (smallest < parent[v]) hooks.emplace_back(parent[v], smallest);  // stochastic hooking of f[v]
    }
    // Hooks of one parent reduced here to their minimum, then sent to the parent's owner.
    std::sort(hooks.begin(), hooks.end());
    std::vector<std::vector<std::int64_t>> send(static_cast<std::size_t>(p));
    for (std::size_t h = 0; h < hooks.size(); ++h)
      if (h == 0 || hooks[h].first != hooks[h - 1].first) {
        auto& box = send[owner(hooks[h].first)];
        box.insert(box.end(), {hooks[h].first, hooks[h].second});
      }
    for (const auto& part : comm.alltoallv(send))
      for (std::size_t x = 0; x + 1 < part.size(); x += 2) {
        auto& slot = next[part[x] - first];
        slot = std::min(slot, part[x + 1]);
      }
    std::int64_t changed = 0;
    for (std::int64_t v = 0; v < n_local; ++v) changed += next[v] != parent[v] ? 1 : 0;
    parent.swap(next);
    // No parent moved: every vertex points to its component's root (stars), adjacent vertices
    // share it, and a root is its component's smallest id (parents only ever decrease from v).
    if (comm.sum(changed) == 0) break;
  }
  out.label = std::move(parent);
  return out;
}

}  // namespace weave::dedup
