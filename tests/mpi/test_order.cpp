// The order stage's parts against sequential oracles: list ranking against walking the paths,
// the ICLM traversal against a plain re-implementation, and the whole stage (greedy + stitching)
// for a permutation whose greedy paths are exactly the sequential greedy's. At 1, 2, 3, 5 ranks.
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/pending/disjoint_sets.hpp>
#include <map>
#include <numeric>
#include <set>

#include "corpus/synth.hpp"
#include "io/hdf5.hpp"
#include "knn/knn_file.hpp"
#include "knn/knn_stage.hpp"
#include "order/iclm.hpp"
#include "order/knn_graph.hpp"
#include "order/list_ranking.hpp"
#include "order/order_stage.hpp"
#include "test_helpers.hpp"
#include "util/random.hpp"
#include "util/report.hpp"

namespace weave {
namespace {

/// Paths of random lengths in [1, max_length] over a random permutation of n ids (so paths cross
/// ranks), ranked and compared with walking them.
void expect_positions_match_walking(const mpi::Comm& comm, std::int64_t n, std::int64_t max_length,
                                    std::uint64_t ruler_spacing = 0) {
  std::vector<std::int64_t> perm(n);
  std::iota(perm.begin(), perm.end(), 0);
  util::CounterRng rng(3, 3, static_cast<std::uint64_t>(n));
  for (std::int64_t i = n - 1; i > 0; --i) std::swap(perm[i], perm[rng.below(static_cast<std::uint64_t>(i + 1))]);
  std::vector<std::int64_t> links(2 * n, -1);
  std::vector<std::vector<std::int64_t>> paths;
  for (std::int64_t at = 0; at < n;) {
    const std::int64_t len =
        std::min<std::int64_t>(n - at, 1 + static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(max_length))));
    paths.emplace_back(perm.begin() + at, perm.begin() + at + len);
    at += len;
  }
  for (const auto& p : paths)
    for (std::size_t j = 0; j + 1 < p.size(); ++j) {
      // Fill slots in a random order to exercise both directions.
      auto put = [&](std::int64_t a, std::int64_t b) {
        const bool both_free = links[2 * a] < 0 && links[2 * a + 1] < 0;
        const int slot = both_free ? static_cast<int>(rng.below(2)) : (links[2 * a] < 0 ? 0 : 1);
        links[2 * a + slot] = b;
      };
      put(p[j], p[j + 1]);
      put(p[j + 1], p[j]);
    }
  const BlockRange range = block_range(n, comm.size(), comm.rank());
  std::vector<std::int64_t> mine(links.begin() + 2 * range.begin, links.begin() + 2 * range.end);
  const auto got = order::rank_paths(comm, n, range, mine, ruler_spacing);
  std::map<std::int64_t, order::PathPosition> want;
  for (const auto& p : paths) {
    const bool forward = p.front() <= p.back();
    const auto len = static_cast<std::int64_t>(p.size());
    for (std::int64_t j = 0; j < len; ++j) {
      order::PathPosition w;
      w.start = std::min(p.front(), p.back());
      w.other_end = std::max(p.front(), p.back());
      w.length = len;
      w.position = forward ? j : len - 1 - j;
      w.predecessor = w.position == 0 ? -1 : (forward ? p[j - 1] : p[j + 1]);
      want[p[j]] = w;
    }
  }
  for (std::int64_t i = 0; i < range.size(); ++i) {
    const auto& g = got[i];
    const auto& w = want[range.begin + i];
    ASSERT_EQ(g.start, w.start) << "doc " << range.begin + i;
    ASSERT_EQ(g.other_end, w.other_end);
    ASSERT_EQ(g.position, w.position);
    ASSERT_EQ(g.length, w.length);
    ASSERT_EQ(g.predecessor, w.predecessor);
  }
}

TEST(ListRanking, PositionsMatchWalkingThePaths) {
  mpi::Comm comm;
  expect_positions_match_walking(comm, 1003, 300);    // many paths, short and long
  expect_positions_match_walking(comm, 3000, 3);      // lone documents, pairs, triples: rulers only
  expect_positions_match_walking(comm, 20011, 40000); // one path of all documents: long walks
  // The sparser rulers of millions of documents per rank (and sparser still: longer walks).
  for (std::uint64_t spacing : {32, 64, 1000}) {
    expect_positions_match_walking(comm, 20011, 40000, spacing);
    expect_positions_match_walking(comm, 1003, 300, spacing);
  }
}

/// A corpus and its exact kNN graph in the scratch folder.
void make_inputs(const mpi::Comm& comm, const testing::ScratchDir& dir, std::int64_t docs, int k) {
  SynthConfig s;
  s.docs = docs;
  s.dim = 16;
  s.topics = 12;
  s.duplicate_share = 0.05;
  s.out = dir.path("c.h5");
  util::Report report(comm, "test");
  corpus::write_synth_corpus(comm, s, true, report);
  KnnConfig kc;
  kc.corpus.path = s.out;
  kc.k = k;
  kc.out = dir.path("knn.h5");
  knn::run_knn_stage(comm, kc, CommonOptions{true, ""}, report);
}

/// The whole graph on every rank: undirected adjacency with max weights, heaviest first.
struct WholeGraph {
  std::int64_t n = 0;
  std::map<std::pair<std::int64_t, std::int64_t>, float> weight;  ///< (min, max) -> weight
};

WholeGraph whole_graph(const mpi::Comm& comm, const std::string& knn_path) {
  const knn::KnnFileBlock f = knn::read_knn_file(comm, knn_path);
  const auto ids = testing::allgather_concat(comm, f.lists.neighbors);
  const auto sims = testing::allgather_concat(comm, f.lists.similarities);
  WholeGraph g;
  g.n = f.num_docs;
  for (std::int64_t u = 0; u < g.n; ++u)
    for (int j = 0; j < f.k; ++j) {
      const std::int64_t v = ids[u * f.k + j];
      if (v < 0) continue;
      auto [it, inserted] = g.weight.emplace(std::minmax(u, v), sims[u * f.k + j]);
      if (!inserted) it->second = std::max(it->second, sims[u * f.k + j]);
    }
  return g;
}

TEST(Iclm, EqualsAPlainSequentialTraversal) {
  mpi::Comm comm;
  testing::ScratchDir dir(comm);
  make_inputs(comm, dir, 600, 6);
  const WholeGraph g = whole_graph(comm, dir.path("knn.h5"));
  // Plain ICLM: restart at the unvisited document of least degree (smallest id among equals);
  // move to the most similar unvisited neighbour (smallest id among equal similarities).
  std::vector<std::vector<std::pair<float, std::int64_t>>> adj(static_cast<std::size_t>(g.n));
  for (const auto& [e, w] : g.weight) {
    adj[e.first].emplace_back(w, e.second);
    adj[e.second].emplace_back(w, e.first);
  }
  std::vector<bool> seen(static_cast<std::size_t>(g.n), false);
  std::vector<std::int64_t> want;
  while (static_cast<std::int64_t>(want.size()) < g.n) {
    std::int64_t cur = -1;
    for (std::int64_t v = 0; v < g.n; ++v)
      if (!seen[v] && (cur < 0 || adj[v].size() < adj[cur].size())) cur = v;
    while (cur >= 0) {
      seen[cur] = true;
      want.push_back(cur);
      std::int64_t next = -1;
      float best = 0;
      for (auto [w, v] : adj[cur])
        if (!seen[v] && (next < 0 || w > best || (w == best && v < next))) next = v, best = w;
      cur = next;
    }
  }
  const knn::KnnFileBlock f = knn::read_knn_file(comm, dir.path("knn.h5"));
  const order::LocalGraph lg = order::build_knn_graph(comm, f.num_docs, f.range, f.lists);
  const order::IclmOrder got = order::iclm_order(comm, lg);
  if (comm.is_root()) EXPECT_EQ(got.order, want);
}

std::vector<std::int64_t> read_all(const mpi::Comm& comm, const std::string& path, const std::string& name) {
  io::File f = io::File::open(comm, path);
  const auto rows = f.dataset_info(name).rows();
  std::vector<std::int64_t> out(static_cast<std::size_t>(rows));
  io::read_rows(f, name, 0, rows, 1, out.data());
  return out;
}

TEST(OrderStage, GreedyPathsAreTheSequentialGreedysAndTheOrderIsAPermutation) {
  mpi::Comm comm;
  testing::ScratchDir dir(comm);
  make_inputs(comm, dir, 900, 5);
  OrderConfig config;
  config.corpus.path = dir.path("c.h5");
  config.knn = dir.path("knn.h5");
  config.out = dir.path("order.h5");
  util::Report report(comm, "order");
  order::run_order_stage(comm, config, CommonOptions{true, ""}, report);
  const auto order = read_all(comm, config.out, "/order");
  const auto offsets = read_all(comm, config.out, "/path_offsets");

  std::vector<std::int64_t> sorted = order;
  std::sort(sorted.begin(), sorted.end());
  std::vector<std::int64_t> ids(900);
  std::iota(ids.begin(), ids.end(), 0);
  ASSERT_EQ(sorted, ids) << "the order is not a permutation of the documents";

  // Oracle: the sequential greedy (Boost disjoint sets) on the whole graph.
  const WholeGraph g = whole_graph(comm, config.knn);
  std::vector<std::tuple<float, std::int64_t, std::int64_t>> edges;
  for (const auto& [e, w] : g.weight) edges.emplace_back(w, e.first, e.second);
  std::sort(edges.begin(), edges.end(), [](auto& x, auto& y) {
    if (std::get<0>(x) != std::get<0>(y)) return std::get<0>(x) > std::get<0>(y);
    return std::make_pair(std::get<1>(x), std::get<2>(x)) < std::make_pair(std::get<1>(y), std::get<2>(y));
  });
  std::vector<std::int64_t> rank(900), parent(900), degree(900, 0);
  boost::disjoint_sets<std::int64_t*, std::int64_t*> sets(rank.data(), parent.data());
  for (std::int64_t i = 0; i < 900; ++i) sets.make_set(i);
  std::set<std::pair<std::int64_t, std::int64_t>> greedy;
  for (auto& [w, a, b] : edges) {
    if (degree[a] >= 2 || degree[b] >= 2 || sets.find_set(a) == sets.find_set(b)) continue;
    sets.union_set(a, b);
    ++degree[a], ++degree[b];
    greedy.emplace(a, b);
  }
  // Inside a path segment every adjacent pair is a greedy edge; every greedy edge is adjacent.
  ASSERT_EQ(offsets.front(), 0);
  ASSERT_EQ(offsets.back(), 900);
  EXPECT_EQ(static_cast<std::int64_t>(offsets.size()) - 1, 900 - static_cast<std::int64_t>(greedy.size()));
  std::set<std::pair<std::int64_t, std::int64_t>> adjacent;
  for (std::size_t s = 0; s + 1 < offsets.size(); ++s)
    for (std::int64_t p = offsets[s] + 1; p < offsets[s + 1]; ++p)
      adjacent.insert(std::minmax(order[p - 1], order[p]));
  EXPECT_EQ(adjacent, greedy);
}

}  // namespace
}  // namespace weave
