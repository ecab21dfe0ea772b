// Undirected edges of the kNN graph and their total order: weight descending, then the smaller
// end's id ascending, then the larger end's id ascending. Every algorithm in src/order breaks ties
// with this order only, so results never depend on the rank count.
#pragma once

#include <cstdint>
#include <limits>

namespace weave::order {

struct Edge {
  float weight = -std::numeric_limits<float>::infinity();
  std::int64_t a = -1;  ///< smaller global id
  std::int64_t b = -1;  ///< larger global id

  static Edge make(std::int64_t u, std::int64_t v, float w) { return u < v ? Edge{w, u, v} : Edge{w, v, u}; }
  bool valid() const { return a >= 0; }
  bool operator==(const Edge& o) const { return a == o.a && b == o.b; }
  std::int64_t other(std::int64_t end) const { return end == a ? b : a; }
};

/// True if x comes before y in the greedy's processing order (is "heavier").
inline bool heavier(const Edge& x, const Edge& y) {
  if (!x.valid() || !y.valid()) return x.valid() && !y.valid();
  if (x.weight != y.weight) return x.weight > y.weight;
  if (x.a != y.a) return x.a < y.a;
  return x.b < y.b;
}

}  // namespace weave::order
