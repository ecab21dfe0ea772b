// The distributed greedy path cover against the sequential greedy (Boost disjoint sets): the same
// accepted edge set on random, clustered and tie-heavy kNN graphs at 1, 2, 3 and 5 ranks, and on
// the adversarial chain of increasing weights within a bounded number of rounds and a per-rank
// bound on the edges held or handed in the tail.
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/pending/disjoint_sets.hpp>
#include <map>
#include <set>

#include "order/greedy.hpp"
#include "order/knn_graph.hpp"
#include "test_helpers.hpp"
#include "util/random.hpp"

namespace weave {
namespace {

using EdgeSet = std::set<std::pair<std::int64_t, std::int64_t>>;

/// kNN lists for every document (the whole graph), from which each rank takes its block.
struct WholeLists {
  std::int64_t n;
  int k;
  std::vector<std::int64_t> ids;
  std::vector<float> sims;
};

/// The oracle: undirected edges with the larger of the two directed weights, sorted by
/// (weight desc, min id, max id); keep an edge when both ends have degree < 2 and it joins two
/// different paths (Boost's disjoint sets).
EdgeSet sequential_oracle(const WholeLists& w) {
  std::map<std::pair<std::int64_t, std::int64_t>, float> weight;
  for (std::int64_t u = 0; u < w.n; ++u)
    for (int j = 0; j < w.k; ++j) {
      const std::int64_t v = w.ids[u * w.k + j];
      if (v < 0) continue;
      auto key = std::minmax(u, v);
      auto [it, inserted] = weight.emplace(key, w.sims[u * w.k + j]);
      if (!inserted) it->second = std::max(it->second, w.sims[u * w.k + j]);
    }
  std::vector<std::tuple<float, std::int64_t, std::int64_t>> edges;
  for (auto& [key, wt] : weight) edges.emplace_back(wt, key.first, key.second);
  std::sort(edges.begin(), edges.end(), [](auto& x, auto& y) {
    if (std::get<0>(x) != std::get<0>(y)) return std::get<0>(x) > std::get<0>(y);
    return std::make_pair(std::get<1>(x), std::get<2>(x)) < std::make_pair(std::get<1>(y), std::get<2>(y));
  });
  std::vector<std::int64_t> rank(w.n), parent(w.n), degree(w.n, 0);
  boost::disjoint_sets<std::int64_t*, std::int64_t*> sets(rank.data(), parent.data());
  for (std::int64_t i = 0; i < w.n; ++i) sets.make_set(i);
  EdgeSet accepted;
  for (auto& [wt, a, b] : edges) {
    if (degree[a] >= 2 || degree[b] >= 2 || sets.find_set(a) == sets.find_set(b)) continue;
    sets.union_set(a, b);
    ++degree[a], ++degree[b];
    accepted.emplace(a, b);
  }
  return accepted;
}

order::PathCover run_distributed(const mpi::Comm& comm, const WholeLists& w, EdgeSet& edges,
                                 order::GreedyOptions options = {}) {
  const BlockRange range = block_range(w.n, comm.size(), comm.rank());
  knn::KnnLists mine;
  mine.k = w.k;
  mine.neighbors.assign(w.ids.begin() + range.begin * w.k, w.ids.begin() + range.end * w.k);
  mine.similarities.assign(w.sims.begin() + range.begin * w.k, w.sims.begin() + range.end * w.k);
  const order::LocalGraph g = order::build_knn_graph(comm, w.n, range, mine);
  order::PathCover cover = order::greedy_path_cover(comm, g, options);
  // Gather (doc, link) pairs; each accepted edge must appear at both of its ends.
  std::vector<std::int64_t> pairs;
  for (std::int64_t i = 0; i < range.size(); ++i)
    for (int s = 0; s < 2; ++s)
      if (cover.links[2 * i + s] >= 0) pairs.insert(pairs.end(), {range.begin + i, cover.links[2 * i + s]});
  const auto all = testing::allgather_concat(comm, pairs);
  std::multiset<std::pair<std::int64_t, std::int64_t>> seen;
  for (std::size_t x = 0; x + 1 < all.size(); x += 2) seen.insert(std::minmax(all[x], all[x + 1]));
  edges.clear();
  for (const auto& e : seen) {
    EXPECT_EQ(seen.count(e), 2u) << "edge " << e.first << "-" << e.second << " not recorded at both ends";
    edges.insert(e);
  }
  return cover;
}

/// Random lists: k distinct random neighbours; weights from `levels` values (few levels = ties).
WholeLists random_lists(std::int64_t n, int k, int levels, std::uint64_t seed, int clusters = 0) {
  WholeLists w{n, k, {}, {}};
  for (std::int64_t u = 0; u < n; ++u) {
    util::CounterRng rng(seed, 1, static_cast<std::uint64_t>(u));
    std::set<std::int64_t> chosen;
    while (static_cast<int>(chosen.size()) < std::min<std::int64_t>(k, n - 1)) {
      std::int64_t v;
      if (clusters > 0 && rng.uniform() < 0.9) {  // mostly within u's cluster (u mod clusters)
        v = (u % clusters) + clusters * static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>((n - 1 - u % clusters) / clusters + 1)));
      } else {
        v = static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(n)));
      }
      if (v != u && v < n) chosen.insert(v);
    }
    std::vector<std::pair<float, std::int64_t>> row;
    for (auto v : chosen) row.emplace_back(static_cast<float>(1 + rng.below(static_cast<std::uint64_t>(levels))) / levels, v);
    std::sort(row.begin(), row.end(), [](auto& a, auto& b) { return a.first != b.first ? a.first > b.first : a.second < b.second; });
    for (int j = 0; j < k; ++j) {
      w.ids.push_back(j < static_cast<int>(row.size()) ? row[j].second : -1);
      w.sims.push_back(j < static_cast<int>(row.size()) ? row[j].first : std::nanf(""));
    }
  }
  return w;
}

/// Neighbours among the nearest ids (within 40), as in a corpus stored by source: most edges join
/// documents of one rank, those across a block boundary do not.
WholeLists nearby_lists(std::int64_t n, int k, std::uint64_t seed) {
  WholeLists w{n, k, {}, {}};
  for (std::int64_t u = 0; u < n; ++u) {
    util::CounterRng rng(seed, 1, static_cast<std::uint64_t>(u));
    std::set<std::int64_t> chosen;
    while (static_cast<int>(chosen.size()) < k) {
      const std::int64_t v = u - 40 + static_cast<std::int64_t>(rng.below(81));
      if (v != u && v >= 0 && v < n) chosen.insert(v);
    }
    std::vector<std::pair<float, std::int64_t>> row;
    for (auto v : chosen) row.emplace_back(static_cast<float>(1 + rng.below(100000)) / 100000, v);
    std::sort(row.begin(), row.end(), [](auto& a, auto& b) { return a.first != b.first ? a.first > b.first : a.second < b.second; });
    for (const auto& [weight, v] : row) {
      w.ids.push_back(v);
      w.sims.push_back(weight);
    }
  }
  return w;
}

/// Every path end's other end, by walking the paths of an edge set (itself for a lone document).
std::vector<std::int64_t> path_partners(std::int64_t n, const EdgeSet& edges) {
  std::vector<std::vector<std::int64_t>> adj(static_cast<std::size_t>(n));
  for (const auto& [a, b] : edges) adj[a].push_back(b), adj[b].push_back(a);
  std::vector<std::int64_t> partner(static_cast<std::size_t>(n), -1);
  for (std::int64_t start = 0; start < n; ++start) {
    if (adj[start].size() >= 2 || partner[start] >= 0) continue;
    std::int64_t prev = -1, at = start;
    while (true) {
      std::int64_t next = -1;
      for (auto x : adj[at])
        if (x != prev) next = x;
      if (next < 0) break;
      prev = at, at = next;
    }
    partner[start] = at, partner[at] = start;
  }
  return partner;
}

order::GreedyStats expect_equals_oracle(const mpi::Comm& comm, const WholeLists& w, const std::string& what,
                                        order::GreedyOptions options = {}) {
  EdgeSet got;
  const auto cover = run_distributed(comm, w, got, options);
  const EdgeSet want = sequential_oracle(w);
  EXPECT_EQ(got.size(), want.size()) << what;
  EXPECT_TRUE(got == want) << what << ": the distributed greedy accepted a different edge set";
  EXPECT_EQ(cover.stats.accepted_total, static_cast<std::int64_t>(want.size())) << what;
  // The partners it returns (stitching starts from them) are the other ends of the paths.
  const auto partner = path_partners(w.n, want);
  const BlockRange range = block_range(w.n, comm.size(), comm.rank());
  for (std::int64_t i = 0; i < range.size(); ++i) {
    const int degree = (cover.links[2 * i] >= 0) + (cover.links[2 * i + 1] >= 0);
    if (degree < 2) EXPECT_EQ(cover.partner[i], partner[range.begin + i]) << what << ": partner of " << range.begin + i;
  }
  if (comm.is_root())
    std::printf("[ %s ] %zu edges, %lld rank-local, %d rounds, %lld in the tail (%lld accepted, %lld batches), %lld messages\n",
                what.c_str(), want.size(), static_cast<long long>(cover.stats.accepted_locally), cover.stats.rounds,
                static_cast<long long>(cover.stats.tail_edges_in),
                static_cast<long long>(cover.stats.tail_accepted), static_cast<long long>(cover.stats.tail_batches),
                static_cast<long long>(cover.stats.messages));
  return cover.stats;
}

/// Options that make the rounds group their records by windows of 8 documents.
order::GreedyOptions small_windows() {
  order::GreedyOptions options;
  options.windowed_docs = 0;
  options.window_bits = 3;
  return options;
}

TEST(DistributedGreedy, RandomGraphs) {
  mpi::Comm comm;
  for (std::uint64_t seed : {1, 2, 3}) expect_equals_oracle(comm, random_lists(2000, 6, 100000, seed), "random");
  // Rounds only (no tail): exercises the mutual-best rounds to the end.
  expect_equals_oracle(comm, random_lists(1500, 5, 100000, 9), "random, rounds only", {0.0, 100000});
  // Tail only: everything in the tail after the first round, in one batch or in many small ones
  // (thresholds at several scales, batches solved by every rank in turn).
  expect_equals_oracle(comm, random_lists(1500, 5, 100000, 10), "random, early tail", {1.1, 100000});
  expect_equals_oracle(comm, random_lists(1500, 5, 100000, 11), "random, tail in batches of 40 slots",
                       {1.1, 100000, false, 40});
  expect_equals_oracle(comm, random_lists(2000, 8, 3, 12), "3 weight levels, tail in batches of 7 slots",
                       {1.1, 100000, false, 7});
  // Spread neighbours skip the rank-local pass by default (share 1/P); forced, it must still agree.
  order::GreedyOptions with_local_pass;
  with_local_pass.local_pass_share = 0;
  for (std::uint64_t seed : {13, 14}) expect_equals_oracle(comm, random_lists(2000, 6, 100000, seed), "random, rank-local pass forced", with_local_pass);
  // The rounds' records grouped by windows of 8 documents (by default only from 2^18 documents a
  // rank), in the rounds and in the tail's notices: the order of processing must not matter.
  for (std::uint64_t seed : {15, 16})
    expect_equals_oracle(comm, random_lists(2000, 6, 100000, seed), "random, records by window", small_windows());
  order::GreedyOptions windows_and_tail = small_windows();
  windows_and_tail.tail_fraction = 1.1;
  windows_and_tail.tail_batch_slots = 40;
  expect_equals_oracle(comm, random_lists(1500, 5, 100000, 17), "random, by window, tail in batches", windows_and_tail);
}

TEST(DistributedGreedy, RankLocalPassWhenMostEdgesAreLocal) {
  mpi::Comm comm;
  // Nearby neighbours: nearly every edge is rank-local, so the local pass runs and decides most.
  const order::GreedyStats nearby = expect_equals_oracle(comm, nearby_lists(6000, 8, 21), "nearby ids");
  EXPECT_TRUE(nearby.local_pass);
  EXPECT_GT(nearby.local_slot_share, 0.9);
  EXPECT_GT(nearby.accepted_locally, nearby.accepted_total / 2);
  order::GreedyOptions never;
  never.local_pass_share = 2;
  const order::GreedyStats rounds = expect_equals_oracle(comm, nearby_lists(6000, 8, 21), "nearby ids, no local pass", never);
  EXPECT_EQ(rounds.local_pass, comm.size() == 1);
  // Spread neighbours: the share is about 1/P, below the default threshold from two ranks on.
  const order::GreedyStats spread = expect_equals_oracle(comm, random_lists(2000, 6, 100000, 22), "random, default");
  EXPECT_EQ(spread.local_pass, comm.size() == 1);
  if (comm.size() > 1) EXPECT_EQ(spread.accepted_locally, 0);
}

TEST(DistributedGreedy, HubsAndTheirSlots) {
  mpi::Comm comm;
  // Every document lists document 0 (and document 1 every third one): two hubs with hundreds of
  // slots, found by slot_of's sorted index instead of a scan; the others by the scan.
  const std::int64_t n = 900;
  const int k = 4;
  WholeLists w = random_lists(n, k, 100000, 31);
  for (std::int64_t u = 2; u < n; ++u) {
    w.ids[u * k] = 0;
    if (u % 3 == 0) w.ids[u * k + 1] = 1;
  }
  for (std::int64_t u = 0; u < n; ++u) {  // no repeated neighbour, none the document itself
    std::set<std::int64_t> seen;
    for (int j = 0; j < k; ++j) {
      std::int64_t& v = w.ids[u * k + j];
      if (v == u || !seen.insert(v).second) v = -1, w.sims[u * k + j] = std::nanf("");
    }
  }
  const BlockRange range = block_range(n, comm.size(), comm.rank());
  knn::KnnLists mine;
  mine.k = k;
  mine.neighbors.assign(w.ids.begin() + range.begin * k, w.ids.begin() + range.end * k);
  mine.similarities.assign(w.sims.begin() + range.begin * k, w.sims.begin() + range.end * k);
  const order::LocalGraph g = order::build_knn_graph(comm, n, range, mine);
  for (std::int64_t i = 0; i < range.size(); ++i) {
    std::set<std::int64_t> neighbours;
    for (std::int64_t s = g.offsets[i]; s < g.offsets[i + 1]; ++s) {
      ASSERT_EQ(g.slot_of(i, g.neighbor[s]), s) << "document " << range.begin + i;
      neighbours.insert(g.neighbor[s]);
    }
    for (std::int64_t v : {std::int64_t{0}, std::int64_t{1}, n / 2, n - 1})
      if (!neighbours.count(v)) EXPECT_EQ(g.slot_of(i, v), -1) << "document " << range.begin + i << ", " << v;
  }
  if (range.contains(GlobalId(0))) {
    EXPECT_GT(g.degree(0), order::LocalGraph::kScanSlots);
    EXPECT_FALSE(g.hubs.empty());
  }
  expect_equals_oracle(comm, w, "two hubs");
  order::GreedyOptions with_local_pass;
  with_local_pass.local_pass_share = 0;
  expect_equals_oracle(comm, w, "two hubs, rank-local pass forced", with_local_pass);
}

TEST(DistributedGreedy, ClusteredGraphs) {
  mpi::Comm comm;
  expect_equals_oracle(comm, random_lists(3000, 10, 1000000, 4, 17), "clustered");
  // The graph built in many rounds of 97 pairs (a rank's lists: 6,000 to 30,000 pairs) is the same.
  order::set_graph_pairs_per_round(97);
  expect_equals_oracle(comm, random_lists(3000, 10, 1000000, 4, 17), "clustered, graph built in small rounds");
  order::set_graph_pairs_per_round(std::int64_t{1} << 19);
  expect_equals_oracle(comm, random_lists(3000, 10, 1000000, 5, 17), "clustered, rounds only", {0.0, 100000});
  order::GreedyOptions without_local_pass;
  without_local_pass.local_pass_share = 2;
  expect_equals_oracle(comm, random_lists(3000, 10, 1000000, 4, 17), "clustered, no rank-local pass", without_local_pass);
  expect_equals_oracle(comm, random_lists(3000, 10, 1000000, 6, 17), "clustered, records by window", small_windows());
}

TEST(DistributedGreedy, TieHeavyGraphs) {
  mpi::Comm comm;
  expect_equals_oracle(comm, random_lists(2000, 8, 3, 6), "3 weight levels");
  expect_equals_oracle(comm, random_lists(2000, 8, 1, 7), "all weights equal", {0.0, 100000});
  expect_equals_oracle(comm, random_lists(2000, 8, 3, 6), "3 weight levels, records by window", small_windows());
  expect_equals_oracle(comm, random_lists(7, 10, 2, 8), "fewer documents than k+1");
}

TEST(DistributedGreedy, AdversarialChainIsBoundedPerRank) {
  mpi::Comm comm;
  // A chain of 100,000 documents with increasing weights along it; consecutive chain documents
  // are in different thirds of the ids (position p is document p / 3 of third p mod 3), so at 3
  // ranks they alternate between the ranks. Mutual-best rounds accept one edge per round here, so
  // the whole chain goes to the tail; its batches must keep every rank within 2 (N/P) k edges held
  // or handed at once, and within twice the mean over ranks.
  const std::int64_t n = 100000;
  const int k = 2;
  WholeLists w{n, k, std::vector<std::int64_t>(k * n, -1), std::vector<float>(k * n, std::nanf(""))};
  auto doc = [&](std::int64_t p) { return block_range(n, 3, static_cast<int>(p % 3)).begin + p / 3; };
  for (std::int64_t p = 0; p < n; ++p) {
    std::vector<std::pair<float, std::int64_t>> row;
    if (p + 1 < n) row.emplace_back(static_cast<float>(p + 1) / n, doc(p + 1));
    if (p > 0) row.emplace_back(static_cast<float>(p) / n, doc(p - 1));
    for (std::size_t j = 0; j < row.size(); ++j) {
      w.ids[doc(p) * k + j] = row[j].second;
      w.sims[doc(p) * k + j] = row[j].first;
    }
  }
  EdgeSet got;
  const auto cover = run_distributed(comm, w, got);
  EXPECT_EQ(got, sequential_oracle(w));
  EXPECT_EQ(static_cast<std::int64_t>(got.size()), n - 1);  // one path through the whole chain
  EXPECT_LE(cover.stats.rounds, 3) << "the contended chain should go to the tail at once";
  const double per_rank_bound = 2.0 * static_cast<double>(n) / comm.size() * k;
  EXPECT_LE(static_cast<double>(cover.stats.peak_edges_max), per_rank_bound);
  EXPECT_LE(static_cast<double>(cover.stats.peak_edges_max), 2.0 * cover.stats.peak_edges_mean);
  EXPECT_LE(static_cast<double>(cover.stats.tail_largest_batch), static_cast<double>(n) / comm.size() * k);
  if (comm.size() > 1) EXPECT_GE(cover.stats.tail_batches, comm.size() / 2) << "the chain fits no single batch";
  if (comm.is_root())
    std::printf("[ chain ] %d rounds, %lld tail edges in %lld batches (largest %lld); peak edges per rank %lld "
                "(mean %.0f, bound 2 (N/P) k = %.0f)\n",
                cover.stats.rounds, static_cast<long long>(cover.stats.tail_edges_in),
                static_cast<long long>(cover.stats.tail_batches), static_cast<long long>(cover.stats.tail_largest_batch),
                static_cast<long long>(cover.stats.peak_edges_max), cover.stats.peak_edges_mean, per_rank_bound);
}

/// The same chain, its heavy half on the last ranks: thresholds at larger scales keep the batches
/// full when one rank holds all the heaviest edges.
TEST(DistributedGreedy, ChainWithHeavyEdgesOnOneRank) {
  mpi::Comm comm;
  const std::int64_t n = 30000;
  const int k = 2;
  WholeLists w{n, k, std::vector<std::int64_t>(k * n, -1), std::vector<float>(k * n, std::nanf(""))};
  for (std::int64_t p = 0; p < n; ++p) {  // document p at position p: the blocks are contiguous pieces
    std::vector<std::pair<float, std::int64_t>> row;
    if (p + 1 < n) row.emplace_back(static_cast<float>(p + 1) / n, p + 1);
    if (p > 0) row.emplace_back(static_cast<float>(p) / n, p - 1);
    for (std::size_t j = 0; j < row.size(); ++j) w.ids[p * k + j] = row[j].second, w.sims[p * k + j] = row[j].first;
  }
  EdgeSet got;
  const auto cover = run_distributed(comm, w, got, {1.1, 100000});
  EXPECT_EQ(got, sequential_oracle(w));
  EXPECT_LE(static_cast<double>(cover.stats.peak_edges_max), 2.0 * static_cast<double>(n) / comm.size() * k);
  // Each batch takes at least half the budget (the mean slots per rank, 2 (n/P)) unless the tail is
  // nearly done, so about 2 (n/P) / ((n/P) / 2) = P batches at most, with some slack.
  EXPECT_LE(cover.stats.tail_batches, 2 * comm.size() + 2);
}

}  // namespace
}  // namespace weave
