// Exact kNN against a brute-force oracle: every neighbour list and similarity identical, on random,
// clustered, duplicate-heavy and tie-heavy corpora, uneven shards, tiny tiles and ring chunks, and
// corpora with fewer than k+1 documents. Registered at 1, 2, 3 and 5 ranks.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <numeric>

#include "corpus/corpus.hpp"
#include "knn/cpu/cpu_backend.hpp"
#include "knn/exact_ring.hpp"
#include "knn/identical_rows.hpp"
#include "knn/knn_file.hpp"
#include "knn/knn_stage.hpp"
#include "util/report.hpp"
#include "test_helpers.hpp"

namespace weave {
namespace {

using testing::CorpusArrays;

struct Case {
  std::string path;
  int k = 10;
  std::int64_t max_block_rows = 1 << 20;
  std::int64_t query_tile = 1024, database_tile = 4096;
};

/// Runs the ring on the corpus and compares the gathered lists with the oracle, bit for bit.
void expect_matches_oracle(const mpi::Comm& comm, const Case& c) {
  KnnConfig config;
  config.corpus.path = c.path;
  config.corpus.max_block_rows = c.max_block_rows;
  config.k = c.k;
  config.query_tile = c.query_tile;
  config.database_tile = c.database_tile;
  config.out = "unused";
  const corpus::CorpusBlock block = corpus::read_corpus(comm, config.corpus);
  knn::CpuBackend backend(comm, config.query_tile, config.database_tile);
  util::Report report(comm, "knn");
  const knn::KnnLists got =
      knn::exact_ring_knn(comm, knn::distributed_rows_of(block), {config.k, config.corpus.max_block_rows}, backend, report);
  const auto ids = testing::allgather_concat(comm, got.neighbors);
  const auto sims = testing::allgather_concat(comm, got.similarities);
  const auto rows = testing::allgather_concat(comm, block.embeddings);
  const std::int64_t n = block.info.num_docs;
  const knn::KnnLists want = testing::brute_force_knn(rows, n, block.info.dim, c.k);
  std::int64_t wrong = 0;
  for (std::int64_t i = 0; i < n * c.k; ++i) {
    const bool same_sim = (std::isnan(sims[i]) && std::isnan(want.similarities[i])) || sims[i] == want.similarities[i];
    if (ids[i] != want.neighbors[i] || !same_sim) {
      if (++wrong <= 5)
        ADD_FAILURE() << c.path << ": document " << i / c.k << " neighbour " << i % c.k << ": got " << ids[i] << " ("
                      << sims[i] << "), oracle " << want.neighbors[i] << " (" << want.similarities[i] << ")";
    }
  }
  EXPECT_EQ(wrong, 0) << c.path << " at " << comm.size() << " ranks";
}


TEST(ExactKnn, RandomCorpusMatchesBruteForce) {
  mpi::Comm comm;
  testing::ScratchDir dir(comm);
  const auto path = testing::write_corpus_on_root(comm, dir, "random.h5", testing::random_corpus(301, 16, 21));
  expect_matches_oracle(comm, {path, 7});
}

TEST(ExactKnn, WideRowsUseWholeBlocksOfTheCanonicalSum) {
  mpi::Comm comm;
  testing::ScratchDir dir(comm);
  // d = 300: two whole blocks of 128 elements (4 per partial sum) and a remainder of 44.
  const auto path = testing::write_corpus_on_root(comm, dir, "wide.h5", testing::random_corpus(150, 300, 22));
  expect_matches_oracle(comm, {path, 5});
}

TEST(ExactKnn, ClusteredCorpusWithNearDuplicates) {
  mpi::Comm comm;
  testing::ScratchDir dir(comm);
  SynthConfig s;
  s.docs = 503;
  s.dim = 32;
  s.topics = 6;
  s.topic_spread = 0.5;
  s.duplicate_share = 0.2;
  const std::string path = testing::write_synth_corpus(comm, dir, s, "clustered.h5");
  expect_matches_oracle(comm, {path, 10});
  expect_matches_oracle(comm, {path, 33, /*max_block_rows=*/17, /*query_tile=*/13, /*database_tile=*/7});
}

TEST(ExactKnn, ExactDuplicatesAreOrderedById) {
  mpi::Comm comm;
  testing::ScratchDir dir(comm);
  // 40 distinct rows, each stored 7 times (ids interleaved): every document has 6 exact copies
  // tied at similarity 1, so the lists depend only on the tie-break by global id.
  const CorpusArrays c = testing::duplicated_corpus(40, 7, 8, 3);
  const auto path = testing::write_corpus_on_root(comm, dir, "dups.h5", c);
  expect_matches_oracle(comm, {path, 10});
  expect_matches_oracle(comm, {path, 4, 9, 5, 6});
}

TEST(ExactKnn, GroupsOfIdenticalRowsLargerThanKAreOneScoreEach) {
  mpi::Comm comm;
  testing::ScratchDir dir(comm);
  // 3 distinct rows stored 60 times each (groups far larger than k, spread over every rank and
  // chunk), so each query's list is all copies of itself, smallest ids first, the document itself
  // left out; with tiny chunks and tiles a group is split across chunks and tiles.
  const CorpusArrays c = testing::duplicated_corpus(3, 60, 8, 4);
  const auto path = testing::write_corpus_on_root(comm, dir, "groups.h5", c);
  expect_matches_oracle(comm, {path, 10});
  expect_matches_oracle(comm, {path, 70, 23, 7, 5});
}

TEST(IdenticalRows, GroupsRowsByTheirBits) {
  // rows: a, b, a, c, b, a, and -0.0 vs 0.0 (equal values, different bits: two groups, which only
  // costs a second score, never a wrong list).
  const std::vector<float> rows{1, 2, 3, 4, 1, 2, 7, 8, 3, 4, 1, 2, 0.0f, 5, -0.0f, 5};
  const knn::IdenticalRows g = knn::group_identical_rows(rows.data(), 8, 2);
  EXPECT_EQ(g.representative, (std::vector<std::int64_t>{0, 1, 3, 6, 7}));
  EXPECT_EQ(g.member_begin, (std::vector<std::int64_t>{0, 3, 5, 6, 7, 8}));
  EXPECT_EQ(g.members, (std::vector<std::int64_t>{0, 2, 5, 1, 4, 3, 6, 7}));

  // Rows of 20 floats that agree in their first 64 bytes (16 floats) and differ after: only the
  // equal ones group (the prefix hash is only a first sieve).
  std::vector<float> wide(6 * 20, 0.5f);
  for (int r = 0; r < 6; ++r) wide[r * 20 + 19] = static_cast<float>(r % 3);  // rows r and r + 3 equal
  const knn::IdenticalRows w = knn::group_identical_rows(wide.data(), 6, 20);
  EXPECT_EQ(w.representative, (std::vector<std::int64_t>{0, 1, 2}));
  EXPECT_EQ(w.members, (std::vector<std::int64_t>{0, 3, 1, 4, 2, 5}));
}

TEST(ExactKnn, TieHeavyGrid) {
  mpi::Comm comm;
  testing::ScratchDir dir(comm);
  // Rows from {-1, 0, 1}^4 (zero row excluded): few distinct similarity values, many exact ties.
  const CorpusArrays c = testing::grid_corpus(200, 4, 5);
  const auto path = testing::write_corpus_on_root(comm, dir, "grid.h5", c);
  expect_matches_oracle(comm, {path, 12});
  expect_matches_oracle(comm, {path, 12, 11, 8, 16});
}

TEST(ExactKnn, FewerDocumentsThanKPlusOnePadsTheLists) {
  mpi::Comm comm;
  testing::ScratchDir dir(comm);
  const auto path = testing::write_corpus_on_root(comm, dir, "tiny.h5", testing::random_corpus(6, 3, 6));
  expect_matches_oracle(comm, {path, 10});  // 5 neighbours each, then -1 / NaN
}

TEST(ExactKnn, UnevenShardsGiveTheSameGraphAsOneFile) {
  mpi::Comm comm;
  testing::ScratchDir dir(comm);
  const CorpusArrays whole = testing::random_corpus(157, 12, 8);
  if (comm.is_root()) {
    testing::write_corpus_file(dir.path("whole.h5"), whole);
    std::ofstream manifest(dir.path("m.txt"));
    const std::vector<std::pair<int, int>> cuts{{0, 1}, {1, 140}, {140, 140}, {140, 157}};
    for (std::size_t s = 0; s < cuts.size(); ++s) {
      testing::write_corpus_file(dir.path("p" + std::to_string(s) + ".h5"), whole.slice(cuts[s].first, cuts[s].second));
      manifest << "p" << s << ".h5\n";
    }
  }
  comm.barrier();
  expect_matches_oracle(comm, {dir.path("m.txt"), 9});
  expect_matches_oracle(comm, {dir.path("whole.h5"), 9, 10});
}

TEST(ExactKnn, StageWritesTheSameListsToKnnH5) {
  mpi::Comm comm;
  testing::ScratchDir dir(comm);
  const auto path = testing::write_corpus_on_root(comm, dir, "c.h5", testing::random_corpus(97, 8, 9));
  KnnConfig config;
  config.corpus.path = path;
  config.k = 5;
  config.out = dir.path("knn.h5");
  util::Report report(comm, "knn");
  knn::run_knn_stage(comm, config, CommonOptions{true, ""}, report);
  const knn::KnnFileBlock file = knn::read_knn_file(comm, config.out);
  EXPECT_EQ(file.num_docs, 97);
  EXPECT_EQ(file.k, 5);
  const auto ids = testing::allgather_concat(comm, file.lists.neighbors);
  const auto sims = testing::allgather_concat(comm, file.lists.similarities);
  const corpus::CorpusBlock block = corpus::read_corpus(comm, config.corpus);
  const knn::KnnLists want = testing::brute_force_knn(testing::allgather_concat(comm, block.embeddings), 97, 8, 5);
  EXPECT_EQ(ids, want.neighbors);
  EXPECT_EQ(sims, want.similarities);
}

}  // namespace
}  // namespace weave
