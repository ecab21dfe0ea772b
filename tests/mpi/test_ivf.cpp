// The IVF search against oracles written independently of src/knn: with one cluster or every cluster
// probed it is the brute-force exact search, bit for bit; otherwise it is the brute-force search
// restricted to the members of each query's probed clusters (computed here from the centroids the
// search returns), on clustered, skewed (one cluster far larger than a rank's share, cut into pieces
// over ranks and rounds) and duplicate-heavy corpora. Registered at 1, 2, 3 and 5 ranks; that the
// lists are the same at every rank count is checked on files by tests/e2e/knn_ivf.py.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "corpus/corpus.hpp"
#include "knn/ivf/cluster_plan.hpp"
#include "knn/ivf/ivf_search.hpp"
#include "util/report.hpp"
#include "test_helpers.hpp"

namespace weave {
namespace {

struct IvfRun {
  std::vector<float> rows;  ///< all rows, every rank
  std::int64_t n = 0, d = 0;
  knn::ivf::IvfResult result;
  std::vector<std::int64_t> ids;  ///< gathered lists
  std::vector<float> sims;
};

IvfRun run_ivf(const mpi::Comm& comm, const std::string& path, const knn::ivf::IvfOptions& options) {
  CorpusOptions co;
  co.path = path;
  const corpus::CorpusBlock block = corpus::read_corpus(comm, co);
  util::Report report(comm, "knn");
  const auto search = knn::make_block_search(KnnBackend::kCpu, comm);
  IvfRun run;
  run.n = block.info.num_docs;
  run.d = block.info.dim;
  run.result = knn::ivf::ivf_knn(comm, knn::RowBlock{block.embeddings.data(), block.size(), GlobalId(block.range.begin)},
                                 run.d, run.n, options, *search, /*quiet=*/true, report);
  run.rows = testing::allgather_concat(comm, block.embeddings);
  run.ids = testing::allgather_concat(comm, run.result.lists.neighbors);
  run.sims = testing::allgather_concat(comm, run.result.lists.similarities);
  return run;
}

void expect_same_lists(const IvfRun& run, const knn::KnnLists& want, int k, const std::string& what) {
  std::int64_t wrong = 0;
  for (std::int64_t i = 0; i < run.n * k; ++i) {
    const bool same_sim = (std::isnan(run.sims[i]) && std::isnan(want.similarities[i])) || run.sims[i] == want.similarities[i];
    if (run.ids[i] != want.neighbors[i] || !same_sim)
      if (++wrong <= 5)
        ADD_FAILURE() << what << ": document " << i / k << " neighbour " << i % k << ": got " << run.ids[i] << " ("
                      << run.sims[i] << "), oracle " << want.neighbors[i] << " (" << want.similarities[i] << ")";
  }
  EXPECT_EQ(wrong, 0) << what;
}

/// Each row's centroids by the reference similarity (similarity desc, cluster id asc).
std::vector<std::vector<int>> rankings_of(const IvfRun& run, int clusters) {
  std::vector<std::vector<int>> out(static_cast<std::size_t>(run.n));
  for (std::int64_t x = 0; x < run.n; ++x) {
    std::vector<std::pair<float, int>> s;
    for (int c = 0; c < clusters; ++c)
      s.emplace_back(testing::reference_similarity(&run.rows[x * run.d], &run.result.centroids[c * run.d], run.d), c);
    std::sort(s.begin(), s.end(), [](auto& a, auto& b) { return a.first != b.first ? a.first > b.first : a.second < b.second; });
    for (const auto& [sim, c] : s) out[x].push_back(c);
  }
  return out;
}

/// The IVF oracle: brute force over the members (nearest centroid) of the query's probed clusters:
/// its `probe` nearest, and the next ones (at most 16 more) while they hold fewer than k + 1 members.
knn::KnnLists ivf_oracle(const IvfRun& run, int clusters, int probe, int k) {
  const auto ranking = rankings_of(run, clusters);
  std::vector<std::int64_t> members(static_cast<std::size_t>(clusters), 0);
  for (const auto& r : ranking) ++members[r[0]];
  std::vector<std::vector<int>> probed(static_cast<std::size_t>(run.n));
  for (std::int64_t q = 0; q < run.n; ++q) {
    std::int64_t held = 0;
    for (int j = 0; j < clusters; ++j) {
      if (j >= probe && (held >= k + 1 || j >= probe + 16)) break;
      probed[q].push_back(ranking[q][j]);
      held += members[ranking[q][j]];
    }
  }
  return testing::brute_force_knn(run.rows, run.n, run.d, k, [&](std::int64_t q, std::int64_t x) {
    return std::find(probed[q].begin(), probed[q].end(), ranking[x][0]) != probed[q].end();
  });
}

knn::ivf::IvfOptions options_of(int k, int clusters, int probe, std::int64_t round_rows, std::int64_t recall_sample = 0) {
  knn::ivf::IvfOptions o;
  o.k = k;
  o.clusters = clusters;
  o.probe = probe;
  o.train_sample = 64 * clusters;
  o.train_iterations = 6;
  o.recall_sample = recall_sample;
  o.round_rows = round_rows;
  return o;
}

std::string clustered(const mpi::Comm& comm, const testing::ScratchDir& dir, std::int64_t docs, std::int64_t topics) {
  SynthConfig s;
  s.docs = docs;
  s.dim = 32;
  s.topics = topics;
  s.topic_spread = 0.8;
  s.duplicate_share = 0.05;
  return testing::write_synth_corpus(comm, dir, s, "clustered.h5");
}

TEST(IvfKnn, OneClusterIsTheExactSearch) {
  mpi::Comm comm;
  testing::ScratchDir dir(comm);
  const auto path = testing::write_corpus_on_root(comm, dir, "random.h5", testing::random_corpus(301, 16, 21));
  const IvfRun run = run_ivf(comm, path, options_of(7, 1, 1, 1 << 20, 40));
  expect_same_lists(run, testing::brute_force_knn(run.rows, run.n, run.d, 7), 7, "one cluster");
  EXPECT_EQ(run.result.recall, 1.0);
  EXPECT_EQ(run.result.recall_queries, 40);
}

TEST(IvfKnn, ProbingEveryClusterIsTheExactSearchAlsoInPieces) {
  mpi::Comm comm;
  testing::ScratchDir dir(comm);
  const auto path = clustered(comm, dir, 503, 6);
  // 40 rows per round: every cluster is cut into pieces of 20 members and 20 queries.
  const IvfRun run = run_ivf(comm, path, options_of(10, 8, 8, 40));
  expect_same_lists(run, testing::brute_force_knn(run.rows, run.n, run.d, 10), 10, "probe = all clusters");
  EXPECT_GT(run.result.clusters_split, 0);
  EXPECT_GT(run.result.rounds, 1);
}

TEST(IvfKnn, ListsAreTheExactListsAmongTheProbedClusters) {
  mpi::Comm comm;
  testing::ScratchDir dir(comm);
  const auto path = clustered(comm, dir, 600, 12);
  for (const std::int64_t round_rows : {std::int64_t{1} << 20, std::int64_t{60}}) {
    const IvfRun run = run_ivf(comm, path, options_of(9, 16, 3, round_rows));
    expect_same_lists(run, ivf_oracle(run, 16, 3, 9), 9, "probe 3 of 16, round rows " + std::to_string(round_rows));
  }
}

TEST(IvfKnn, ASkewedCorpusSplitsItsLargeCluster) {
  mpi::Comm comm;
  testing::ScratchDir dir(comm);
  // 70% of the rows close to one direction (one topic far larger than a rank's share), the rest random.
  testing::CorpusArrays c = testing::random_corpus(700, 16, 31);
  util::CounterRng rng(5, 0, 0);
  for (std::int64_t r = 0; r < 490; ++r)
    for (std::int64_t j = 0; j < 16; ++j) c.embeddings[r * 16 + j] = (j == 0 ? 4.0f : 0.0f) + static_cast<float>(rng.normal() * 0.3);
  const auto path = testing::write_corpus_on_root(comm, dir, "skewed.h5", c);
  const IvfRun run = run_ivf(comm, path, options_of(8, 10, 2, 100));
  expect_same_lists(run, ivf_oracle(run, 10, 2, 8), 8, "skewed");
  EXPECT_GT(run.result.clusters_split, 0);
}

TEST(IvfKnn, DuplicatesLeaveClustersEmptyWithoutHarm) {
  mpi::Comm comm;
  testing::ScratchDir dir(comm);
  // 3 distinct rows: at most 3 of the 8 clusters can have members; k-means cannot split the rest.
  const auto path = testing::write_corpus_on_root(comm, dir, "dups.h5", testing::duplicated_corpus(3, 60, 8, 4));
  const IvfRun run = run_ivf(comm, path, options_of(10, 8, 2, 50));
  expect_same_lists(run, ivf_oracle(run, 8, 2, 10), 10, "duplicates");
}

TEST(IvfKnn, TinyClustersAreProbedFurtherSoNoListIsShort) {
  mpi::Comm comm;
  testing::ScratchDir dir(comm);
  // 64 clusters for 300 random rows: about 5 members each, fewer than k + 1 = 11.
  const auto path = testing::write_corpus_on_root(comm, dir, "tiny.h5", testing::random_corpus(300, 16, 41));
  knn::ivf::IvfOptions o = options_of(10, 64, 1, 1 << 20, 120);
  const IvfRun run = run_ivf(comm, path, o);
  expect_same_lists(run, ivf_oracle(run, 64, 1, 10), 10, "tiny clusters");
  EXPECT_EQ(std::count(run.ids.begin(), run.ids.end(), -1), 0);
  // The curve predicts the search exactly here too (the extra probes included).
  const auto at = std::find(run.result.probe_levels.begin(), run.result.probe_levels.end(), 1) - run.result.probe_levels.begin();
  EXPECT_EQ(run.result.recall_by_probe[at], run.result.recall);
}

TEST(IvfKnn, TheMeasuredRecallIsTheCurvesAtTheChosenProbe) {
  mpi::Comm comm;
  testing::ScratchDir dir(comm);
  const auto path = clustered(comm, dir, 2000, 20);
  knn::ivf::IvfOptions o = options_of(10, 32, 0, 1 << 20, 300);
  o.target_recall = 0.95;
  const IvfRun run = run_ivf(comm, path, o);
  const auto& r = run.result;
  ASSERT_GT(r.probe, 0);
  const auto at = std::find(r.probe_levels.begin(), r.probe_levels.end(), r.probe) - r.probe_levels.begin();
  ASSERT_LT(at, static_cast<std::ptrdiff_t>(r.probe_levels.size()));
  // The curve predicted what the search returned for the sample, exactly.
  EXPECT_EQ(r.recall_by_probe[at], r.recall);
  EXPECT_GE(r.recall, 0.95);
  if (at > 0) EXPECT_LT(r.recall_by_probe[at - 1], 0.95);  // the least probe that reaches the target
  // Recall over every document, against brute force: the sample's estimate is close.
  const auto exact = testing::brute_force_knn(run.rows, run.n, run.d, 10);
  std::int64_t hits = 0;
  for (std::int64_t q = 0; q < run.n; ++q)
    for (int j = 0; j < 10; ++j)
      hits += std::count(exact.neighbors.begin() + q * 10, exact.neighbors.begin() + q * 10 + 10, run.ids[q * 10 + j]);
  const double full = static_cast<double>(hits) / static_cast<double>(run.n * 10);
  EXPECT_NEAR(full, r.recall, 0.03);
  EXPECT_GE(full, 0.93);
  expect_same_lists(run, ivf_oracle(run, 32, r.probe, 10), 10, "automatic probe");
}

TEST(ClusterPlan, PiecesCoverEveryPairOnceWithinTheRowBound) {
  const std::vector<std::int64_t> members{0, 5, 1000, 37, 1};
  const std::vector<std::int64_t> queries{3, 9, 2500, 40, 1};
  for (int ranks : {1, 2, 3, 5}) {
    const std::int64_t round_rows = 200;
    const auto plan = knn::ivf::plan_clusters(members, queries, ranks, round_rows);
    double pairs = 0;
    std::vector<std::int64_t> slot_rows;
    for (std::size_t c = 0; c < members.size(); ++c) {
      if (members[c] == 0) {
        EXPECT_EQ(plan.member_pieces[c] * plan.query_pieces[c], 0);
        continue;
      }
      EXPECT_GE(plan.member_pieces[c] * plan.member_piece_rows[c], members[c]);
      EXPECT_GE(plan.query_pieces[c] * plan.query_piece_rows[c], queries[c]);
      for (std::int64_t j = 0; j < plan.query_pieces[c]; ++j)
        for (std::int64_t i = 0; i < plan.member_pieces[c]; ++i) {
          const auto u = plan.unit(c, j, i);
          const std::int64_t m = std::min(plan.member_piece_rows[c], members[c] - i * plan.member_piece_rows[c]);
          const std::int64_t q = std::min(plan.query_piece_rows[c], queries[c] - j * plan.query_piece_rows[c]);
          EXPECT_EQ(plan.unit_rows[u], m + q);
          EXPECT_LE(plan.unit_rows[u], round_rows);
          pairs += static_cast<double>(m * q);
          const auto slot = static_cast<std::size_t>(plan.unit_round[u] * ranks + plan.unit_rank[u]);
          if (slot_rows.size() <= slot) slot_rows.resize(slot + 1, 0);
          slot_rows[slot] += plan.unit_rows[u];
        }
    }
    EXPECT_EQ(pairs, plan.pairs());
    for (auto rows : slot_rows) EXPECT_LT(rows, 2 * round_rows);
    EXPECT_EQ(static_cast<int>((slot_rows.size() + ranks - 1) / ranks), plan.rounds);
  }
}

}  // namespace
}  // namespace weave
