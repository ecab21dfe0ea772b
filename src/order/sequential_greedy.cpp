// The sequential greedy over an edge list, used for the contended tail on rank 0. Its memory is
// O(edges handed over), which the round rule keeps small on real data.
#include <algorithm>
#include <numeric>
#include <unordered_map>

#include "order/greedy.hpp"

namespace weave::order {

std::vector<Edge> sequential_greedy(std::vector<Edge> edges, const std::vector<FragmentEnd>& ends) {
  std::unordered_map<std::int64_t, std::int64_t> index;  // document -> dense index
  auto id = [&](std::int64_t doc) {
    auto [it, inserted] = index.try_emplace(doc, static_cast<std::int64_t>(index.size()));
    return it->second;
  };
  for (const auto& e : ends) id(e.doc), id(e.partner);
  for (const auto& e : edges) id(e.a), id(e.b);
  std::vector<std::int64_t> parent(index.size());
  std::iota(parent.begin(), parent.end(), 0);
  std::vector<std::int64_t> degree(index.size(), 0);
  auto find = [&](std::int64_t x) {
    while (parent[x] != x) x = parent[x] = parent[parent[x]];
    return x;
  };
  for (const auto& e : ends) {
    degree[id(e.doc)] = e.degree;
    parent[find(id(e.doc))] = find(id(e.partner));  // a fragment's two ends are one set
  }
  std::sort(edges.begin(), edges.end(), heavier);
  std::vector<Edge> accepted;
  for (const auto& e : edges) {
    const std::int64_t a = id(e.a), b = id(e.b);
    if (degree[a] >= 2 || degree[b] >= 2) continue;
    const std::int64_t ra = find(a), rb = find(b);
    if (ra == rb) continue;
    parent[ra] = rb;
    ++degree[a];
    ++degree[b];
    accepted.push_back(e);
  }
  return accepted;
}

}  // namespace weave::order
