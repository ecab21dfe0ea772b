// The sequential greedy path cover (Boost disjoint sets) on a whole knn.h5 in one process, timed:
// the baseline of benchmarks/order_bench.py. Reading the file is not timed; building the edge list,
// sorting and the greedy are. Usage: order_oracle KNN.h5
#include <algorithm>
#include <boost/pending/disjoint_sets.hpp>
#include <chrono>
#include <map>

#include <fmt/format.h>

#include "knn/knn_file.hpp"
#include "mpi/environment.hpp"
#include "order/edge.hpp"

using namespace weave;

int main(int argc, char** argv) {
  mpi::Environment env(argc, argv);
  const mpi::Comm self = mpi::Comm::self();
  const knn::KnnFileBlock f = knn::read_knn_file(self, argv[1]);
  const auto t0 = std::chrono::steady_clock::now();
  const std::int64_t n = f.num_docs;
  std::vector<order::Edge> edges;
  edges.reserve(static_cast<std::size_t>(n * f.k));
  for (std::int64_t u = 0; u < n; ++u)
    for (int j = 0; j < f.k; ++j) {
      const std::int64_t v = f.lists.neighbors[u * f.k + j];
      if (v >= 0) edges.push_back(order::Edge::make(u, v, f.lists.similarities[u * f.k + j]));
    }
  // One undirected edge per pair with the larger weight: sort by pair, weight desc; keep the first.
  std::sort(edges.begin(), edges.end(), [](const order::Edge& x, const order::Edge& y) {
    return x.a != y.a ? x.a < y.a : x.b != y.b ? x.b < y.b : x.weight > y.weight;
  });
  edges.erase(std::unique(edges.begin(), edges.end()), edges.end());
  std::sort(edges.begin(), edges.end(), order::heavier);
  std::vector<std::int64_t> rank(static_cast<std::size_t>(n)), parent(static_cast<std::size_t>(n)), degree(static_cast<std::size_t>(n), 0);
  boost::disjoint_sets<std::int64_t*, std::int64_t*> sets(rank.data(), parent.data());
  for (std::int64_t i = 0; i < n; ++i) sets.make_set(i);
  std::int64_t accepted = 0;
  for (const auto& e : edges) {
    if (degree[e.a] >= 2 || degree[e.b] >= 2 || sets.find_set(e.a) == sets.find_set(e.b)) continue;
    sets.union_set(e.a, e.b);
    ++degree[e.a], ++degree[e.b], ++accepted;
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  fmt::print("RESULT baseline=sequential_greedy n={} edges={} accepted={} seconds={:.4f}\n", n, edges.size(), accepted, seconds);
  return 0;
}
