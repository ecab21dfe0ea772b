// The sequential greedy over an edge list, used for the contended tail on rank 0. Its memory is
// O(edges handed over), which the round rule keeps small on real data.
#include <algorithm>
#include <numeric>
#include <unordered_map>

#include "order/greedy.hpp"

namespace weave::order {

SequentialResult sequential_greedy(std::vector<Edge> edges, const std::vector<FragmentEnd>& ends) {
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
    if (e.partner != e.doc) degree[id(e.partner)] = std::max<std::int64_t>(degree[id(e.partner)], 1);
  }
  for (const auto& e : ends) {
    degree[id(e.doc)] = e.degree;
    parent[find(id(e.doc))] = find(id(e.partner));  // a fragment's two ends are one set
  }
  std::sort(edges.begin(), edges.end(), heavier);
  SequentialResult out;
  for (const auto& e : edges) {
    const std::int64_t a = id(e.a), b = id(e.b);
    if (degree[a] >= 2 || degree[b] >= 2) continue;
    const std::int64_t ra = find(a), rb = find(b);
    if (ra == rb) continue;
    parent[ra] = rb;
    ++degree[a];
    ++degree[b];
    out.accepted.push_back(e);
  }
  // The merged fragments' ends: the members of degree < 2 of every set an accepted edge touched
  // (both ends of a fragment are always known here: an end comes with its partner).
  std::vector<std::uint8_t> touched(index.size(), 0);
  for (const auto& e : out.accepted) touched[find(id(e.a))] = 1;
  std::vector<std::int64_t> doc_of(index.size());
  for (const auto& [doc, x] : index) doc_of[x] = doc;
  std::unordered_map<std::int64_t, std::vector<std::int64_t>> ends_of;  // root -> its ends
  for (std::int64_t x = 0; x < static_cast<std::int64_t>(index.size()); ++x)
    if (degree[x] < 2 && touched[find(x)]) ends_of[find(x)].push_back(doc_of[x]);
  for (const auto& [root, docs] : ends_of) {
    if (docs.size() != 2) continue;  // not reached: a merged fragment has exactly two ends
    out.new_partners.emplace_back(docs[0], docs[1]);
    out.new_partners.emplace_back(docs[1], docs[0]);
  }
  return out;
}

}  // namespace weave::order
