// Semantic deduplication against a sequential union-find oracle (written here, independent of the
// distributed code): groups, representatives (both keep rules), group sizes and the summary on
// random graphs, long chains across ranks (the components' worst case), stars and all-duplicate
// graphs, at 1, 2, 3 and 5 ranks; and the same lists at every rank count.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <numeric>
#include <set>

#include "dedup/components.hpp"
#include "dedup/duplicate_groups.hpp"
#include "test_helpers.hpp"
#include "util/random.hpp"

namespace weave {
namespace {

struct WholeGraph {
  std::int64_t n;
  int k;
  std::vector<std::int64_t> ids;   // n x k, -1 padding last
  std::vector<float> sims;
  std::vector<std::int64_t> lengths;
};

/// The oracle: plain union-find (path halving) over the edges at or above the threshold, then per
/// group the longest (ties lowest id) or the lowest id.
struct Oracle {
  std::vector<std::int64_t> representative, group_size;
  std::int64_t groups = 0, removed = 0, removed_tokens = 0, edges = 0;
};
Oracle oracle(const WholeGraph& g, double threshold, dedup::KeepRule keep) {
  std::vector<std::int64_t> up(g.n);
  std::iota(up.begin(), up.end(), 0);
  auto find = [&](std::int64_t x) {
    while (up[x] != x) x = up[x] = up[up[x]];
    return x;
  };
  std::set<std::pair<std::int64_t, std::int64_t>> edges;
  for (std::int64_t u = 0; u < g.n; ++u)
    for (int j = 0; j < g.k; ++j) {
      const std::int64_t v = g.ids[u * g.k + j];
      if (v < 0 || static_cast<double>(g.sims[u * g.k + j]) < threshold) continue;
      edges.insert(std::minmax(u, v));
      up[find(u)] = find(v);
    }
  Oracle o;
  o.edges = static_cast<std::int64_t>(edges.size());
  std::map<std::int64_t, std::vector<std::int64_t>> members;
  for (std::int64_t v = 0; v < g.n; ++v) members[find(v)].push_back(v);
  o.representative.assign(g.n, -1);
  o.group_size.assign(g.n, 0);
  for (const auto& [root, m] : members) {
    std::int64_t best = m[0];
    for (auto v : m)
      if (keep == dedup::KeepRule::kLongest && g.lengths[v] > g.lengths[best]) best = v;
    for (auto v : m) o.representative[v] = best, o.group_size[v] = static_cast<std::int64_t>(m.size());
    if (m.size() > 1) ++o.groups;
    for (auto v : m)
      if (v != best) ++o.removed, o.removed_tokens += g.lengths[v];
  }
  return o;
}

dedup::DuplicateGroups run_distributed(const mpi::Comm& comm, const WholeGraph& g, double threshold,
                                       dedup::KeepRule keep, std::vector<std::int64_t>& all_rep,
                                       std::vector<std::int64_t>& all_size) {
  const BlockRange range = block_range(g.n, comm.size(), comm.rank());
  knn::KnnLists mine;
  mine.k = g.k;
  mine.neighbors.assign(g.ids.begin() + range.begin * g.k, g.ids.begin() + range.end * g.k);
  mine.similarities.assign(g.sims.begin() + range.begin * g.k, g.sims.begin() + range.end * g.k);
  std::vector<std::int64_t> lengths(g.lengths.begin() + range.begin, g.lengths.begin() + range.end);
  dedup::DuplicateGroups groups = dedup::find_duplicate_groups(comm, g.n, range, mine, lengths, threshold, keep);
  all_rep = testing::allgather_concat(comm, groups.representative);
  all_size = testing::allgather_concat(comm, groups.group_size);
  return groups;
}

void expect_matches_oracle(const mpi::Comm& comm, const WholeGraph& g, double threshold, dedup::KeepRule keep) {
  std::vector<std::int64_t> rep, size;
  const auto groups = run_distributed(comm, g, threshold, keep, rep, size);
  const Oracle o = oracle(g, threshold, keep);
  EXPECT_EQ(rep, o.representative);
  EXPECT_EQ(size, o.group_size);
  EXPECT_EQ(groups.groups, o.groups);
  EXPECT_EQ(groups.removed_documents, o.removed);
  EXPECT_EQ(groups.removed_tokens, o.removed_tokens);
  EXPECT_EQ(groups.edges, o.edges);
  // The histogram counts every group once; the largest group listed first is the oracle's largest.
  std::int64_t histogram_total = 0;
  for (const auto& [bucket, count] : groups.size_histogram.items()) histogram_total += count.get<std::int64_t>();
  EXPECT_EQ(histogram_total, o.groups);
  if (o.groups > 0) {
    const std::int64_t largest = *std::max_element(o.group_size.begin(), o.group_size.end());
    ASSERT_FALSE(groups.largest.empty());
    EXPECT_EQ(groups.largest[0]["size"].get<std::int64_t>(), largest);
    // Its first member is the smallest id of the largest group with the smallest such id.
    std::int64_t first = -1;
    for (std::int64_t v = 0; v < g.n && first < 0; ++v)
      if (o.group_size[v] == largest) first = v;
    EXPECT_EQ(groups.largest[0]["first_members"][0].get<std::int64_t>(), first);
  }
}

/// Random lists: neighbours anywhere, similarities at four values (many ties), so that groups of
/// every size form at 0.95 and 0.85 and a giant one at 0.75.
WholeGraph random_graph(std::int64_t n, int k, std::uint64_t seed) {
  WholeGraph g{n, k, std::vector<std::int64_t>(n * k, -1), std::vector<float>(n * k, NAN), std::vector<std::int64_t>(n)};
  for (std::int64_t u = 0; u < n; ++u) {
    util::CounterRng rng(seed, 1, static_cast<std::uint64_t>(u));
    g.lengths[u] = 1 + static_cast<std::int64_t>(rng.below(20));  // ties in length too
    std::set<std::int64_t> picked;
    for (int j = 0; j < k; ++j) {
      const auto v = static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(n)));
      if (v != u) picked.insert(v);  // a repeat or the document itself: a shorter list, -1 padding last
    }
    std::vector<float> s;
    for (std::size_t j = 0; j < picked.size(); ++j) {  // 5% at 0.99, 10% at 0.9, 15% at 0.8, the rest 0.5
      const std::uint64_t r = rng.below(20);
      s.push_back(r == 0 ? 0.99f : r < 3 ? 0.9f : r < 6 ? 0.8f : 0.5f);
    }
    std::sort(s.rbegin(), s.rend());
    int j = 0;
    for (auto v : picked) g.ids[u * k + j] = v, g.sims[u * k + j] = s[j], ++j;
  }
  return g;
}

TEST(Dedup, RandomGraphsMatchUnionFind) {
  mpi::Comm comm;
  for (std::uint64_t seed : {1, 2, 3}) {
    const WholeGraph g = random_graph(997, 4, seed);
    // The oracle itself finds many groups of several sizes below the giant component's threshold.
    const Oracle sparse = oracle(g, 0.95, dedup::KeepRule::kLongest);
    const Oracle mid = oracle(g, 0.85, dedup::KeepRule::kLongest);
    EXPECT_GE(sparse.groups, 50);
    EXPECT_GE(*std::max_element(sparse.group_size.begin(), sparse.group_size.end()), 3);
    EXPECT_GE(*std::max_element(mid.group_size.begin(), mid.group_size.end()), 10);
    EXPECT_LT(*std::max_element(mid.group_size.begin(), mid.group_size.end()), 997);
    for (double threshold : {0.95, 0.85, 0.75, 0.5})
      for (auto keep : {dedup::KeepRule::kLongest, dedup::KeepRule::kFirst}) {
        SCOPED_TRACE(::testing::Message() << "seed " << seed << " threshold " << threshold);
        expect_matches_oracle(comm, g, threshold, keep);
      }
  }
}

TEST(Dedup, LongChainAcrossRanks) {
  // 0 - 1 - 2 - ... - n-1 listed only from the higher end, with the smallest id at one end and the
  // longest document in the middle: one group, labels must travel the whole chain.
  mpi::Comm comm;
  const std::int64_t n = 2000;
  WholeGraph g{n, 1, std::vector<std::int64_t>(n, -1), std::vector<float>(n, NAN), std::vector<std::int64_t>(n, 10)};
  for (std::int64_t u = 1; u < n; ++u) g.ids[u] = u - 1, g.sims[u] = 0.99f;
  g.lengths[n / 2] = 50;
  expect_matches_oracle(comm, g, 0.95, dedup::KeepRule::kLongest);
  // Reversed ids: the chain's smallest id at the far end of the list direction.
  for (std::int64_t u = 0; u + 1 < n; ++u) g.ids[u] = u + 1, g.sims[u] = 0.99f;
  g.ids[n - 1] = -1, g.sims[n - 1] = NAN;
  std::vector<std::int64_t> rep, size;
  const auto groups = run_distributed(comm, g, 0.95, dedup::KeepRule::kFirst, rep, size);
  EXPECT_EQ(groups.groups, 1);
  EXPECT_EQ(groups.removed_documents, n - 1);
  EXPECT_TRUE(std::all_of(rep.begin(), rep.end(), [](std::int64_t r) { return r == 0; }));
  EXPECT_LE(groups.iterations, 40);  // pointer jumping: logarithmic, not the chain's length
}

TEST(Dedup, AllDuplicatesAndStars) {
  mpi::Comm comm;
  // Every document lists k others of one big group (all similarities 1): one group of n.
  const std::int64_t n = 600;
  const int k = 5;
  WholeGraph all{n, k, std::vector<std::int64_t>(n * k), std::vector<float>(n * k, 1.0f), std::vector<std::int64_t>(n, 7)};
  for (std::int64_t u = 0; u < n; ++u)
    for (int j = 0; j < k; ++j) all.ids[u * k + j] = (u + j + 1) % n;
  expect_matches_oracle(comm, all, 1.0, dedup::KeepRule::kLongest);
  // Stars: every document lists its hub (the last document of each block of 50) at 0.97, others at 0.5.
  WholeGraph star{n, 2, std::vector<std::int64_t>(n * 2, -1), std::vector<float>(n * 2, NAN), std::vector<std::int64_t>(n)};
  for (std::int64_t u = 0; u < n; ++u) {
    star.lengths[u] = u % 7 + 1;
    const std::int64_t hub = (u / 50) * 50 + 49;
    if (u != hub) star.ids[u * 2] = hub, star.sims[u * 2] = 0.97f;
    star.ids[u * 2 + 1] = (u + 100) % n, star.sims[u * 2 + 1] = 0.5f;
    if (u == hub) star.ids[u * 2] = star.ids[u * 2 + 1], star.sims[u * 2] = 0.5f, star.ids[u * 2 + 1] = -1,
                  star.sims[u * 2 + 1] = NAN;
  }
  expect_matches_oracle(comm, star, 0.96, dedup::KeepRule::kLongest);
  expect_matches_oracle(comm, star, 0.4, dedup::KeepRule::kFirst);
}

TEST(Dedup, ExchangesInSmallRounds) {
  // The components' exchanges cut into rounds of 7 ids a rank: the same groups.
  mpi::Comm comm;
  dedup::set_component_keys_per_round(7);
  const WholeGraph g = random_graph(499, 4, 11);
  for (double threshold : {0.95, 0.85})
    for (auto keep : {dedup::KeepRule::kLongest, dedup::KeepRule::kFirst}) expect_matches_oracle(comm, g, threshold, keep);
  dedup::set_component_keys_per_round(std::int64_t{1} << 22);
}

TEST(Dedup, NoEdgeAtThreshold) {
  mpi::Comm comm;
  const WholeGraph g = random_graph(101, 3, 9);
  std::vector<std::int64_t> rep, size;
  const auto groups = run_distributed(comm, g, 1.0, dedup::KeepRule::kLongest, rep, size);
  EXPECT_EQ(groups.groups, 0);
  EXPECT_EQ(groups.removed_documents, 0);
  for (std::int64_t v = 0; v < g.n; ++v) EXPECT_EQ(rep[v], v);
  EXPECT_TRUE(groups.largest.empty());
}

}  // namespace
}  // namespace weave
