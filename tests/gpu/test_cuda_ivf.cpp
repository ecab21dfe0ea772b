// The GPU block search (knn/cuda/cuda_block_search.*) against the CPU one: the same lists, bit for
// bit, for rows with arbitrary (shuffled, non-consecutive) ids, queries that are also database rows
// (excluded by id), queries without ids, exact duplicates (ties by id), odd dimensions and k beyond
// a warp; and the whole IVF search with --backend cuda against --backend cpu (the same centroids,
// nprobe, recall and lists). Label gpu; without a GPU per rank every test is skipped (exit 77).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "corpus/corpus.hpp"
#include "knn/block_search.hpp"
#include "knn/cuda/gpu_device.hpp"
#include "knn/ivf/ivf_search.hpp"
#include "test_helpers.hpp"
#include "util/random.hpp"
#include "util/report.hpp"

namespace weave {
namespace {

bool every_rank_has_a_gpu(const mpi::Comm& comm) {
  const bool mine = knn::cuda::visible_gpu_count() >= knn::cuda::ranks_on_this_node(comm);
  return comm.min(mine ? 1 : 0) == 1;
}

#define SKIP_WITHOUT_GPUS(comm)                                                          \
  if (!every_rank_has_a_gpu(comm)) GTEST_SKIP() << "no GPU for every rank on this node"

/// n unit rows of dim d; with `copies` > 1, rows repeat (row i = row i mod (n / copies)).
std::vector<float> unit_rows(std::int64_t n, std::int64_t d, std::uint64_t seed, std::int64_t copies = 1) {
  std::vector<float> rows(static_cast<std::size_t>(n * d));
  const std::int64_t distinct = std::max<std::int64_t>(1, n / copies);
  for (std::int64_t i = 0; i < n; ++i) {
    util::CounterRng rng(seed, 0, static_cast<std::uint64_t>(i % distinct));
    double norm = 0;
    for (std::int64_t j = 0; j < d; ++j) norm += std::pow(rows[i * d + j] = static_cast<float>(rng.normal()), 2);
    for (std::int64_t j = 0; j < d; ++j) rows[i * d + j] = static_cast<float>(rows[i * d + j] / std::sqrt(norm));
  }
  return rows;
}

std::vector<std::int64_t> shuffled_ids(std::int64_t n, std::uint64_t seed) {
  std::vector<std::int64_t> ids(static_cast<std::size_t>(n));
  std::iota(ids.begin(), ids.end(), 0);
  util::CounterRng rng(seed, 1, 0);
  for (std::int64_t i = n - 1; i > 0; --i) std::swap(ids[i], ids[rng.below(static_cast<std::uint64_t>(i + 1))]);
  for (auto& id : ids) id = 3 * id + 7;  // not consecutive either
  return ids;
}

void expect_same(const knn::KnnLists& a, const knn::KnnLists& b, const std::string& what) {
  ASSERT_EQ(a.neighbors.size(), b.neighbors.size()) << what;
  std::int64_t wrong = 0;
  for (std::size_t i = 0; i < a.neighbors.size(); ++i) {
    const bool same_sim = (std::isnan(a.similarities[i]) && std::isnan(b.similarities[i])) ||
                          a.similarities[i] == b.similarities[i];
    if (a.neighbors[i] != b.neighbors[i] || !same_sim)
      if (++wrong <= 5)
        ADD_FAILURE() << what << ": entry " << i << ": cpu " << a.neighbors[i] << " (" << a.similarities[i] << "), cuda "
                      << b.neighbors[i] << " (" << b.similarities[i] << ")";
  }
  EXPECT_EQ(wrong, 0) << what;
}

void compare_block_search(const mpi::Comm& comm, std::int64_t nq, std::int64_t nb, std::int64_t d, int k,
                          std::int64_t copies, bool query_ids, const std::string& what) {
  const auto cpu = knn::make_block_search(KnnBackend::kCpu, comm);
  const auto gpu = knn::make_block_search(KnnBackend::kCuda, comm);
  const auto database = unit_rows(nb, d, 11, copies);
  const auto database_ids = shuffled_ids(nb, 12);
  // The first half of the queries (at most all database rows) are database rows (their own ids: excluded), the rest new rows.
  const std::int64_t half = std::min(nq / 2, nb);
  std::vector<float> queries(database.begin(), database.begin() + half * d);
  const auto fresh = unit_rows(nq - half, d, 13);
  queries.insert(queries.end(), fresh.begin(), fresh.end());
  std::vector<std::int64_t> ids(database_ids.begin(), database_ids.begin() + half);
  for (std::int64_t i = half; i < nq; ++i) ids.push_back(-5 - i);
  const knn::RowSet q{queries.data(), query_ids ? ids.data() : nullptr, nq};
  const knn::RowSet db{database.data(), database_ids.data(), nb};
  knn::KnnLists a, b;
  cpu->search(q, db, d, k, a);
  gpu->search(q, db, d, k, b);
  expect_same(a, b, what);
  if (query_ids)
    for (std::int64_t i = 0; i < half; ++i)
      for (int j = 0; j < k; ++j) ASSERT_NE(b.neighbors[i * k + j], ids[i]) << what << ": a query is its own neighbour";
}

TEST(CudaBlockSearch, ArbitraryIdsMatchTheCpu) {
  mpi::Comm comm;
  SKIP_WITHOUT_GPUS(comm);
  compare_block_search(comm, 3000, 9000, 768, 10, 1, true, "random 768");
  compare_block_search(comm, 500, 5000, 37, 10, 1, true, "odd dimension");
  compare_block_search(comm, 400, 6000, 64, 50, 1, true, "k = 50");
  compare_block_search(comm, 700, 7000, 16, 12, 70, true, "duplicates");
  compare_block_search(comm, 300, 1024, 128, 8, 1, false, "queries without ids (centroids)");
  compare_block_search(comm, 300, 0, 128, 8, 1, true, "empty database");
}

/// The same units on both backends, over held rows: picks among own and extra rows, runs of own
/// rows, given rows, an empty database; more queries than one batch of GPU lists. The GPU holds
/// the rows itself, or (--gpu-resident-rows below the own rows) leaves them on the host.
TEST(CudaBlockSearch, HeldRowsMatchTheCpu) {
  mpi::Comm comm;
  SKIP_WITHOUT_GPUS(comm);
  const std::int64_t d = 96, n_own = 300000, n_extra = 5000, first = 77;
  const int k = 10;
  const auto own = unit_rows(n_own, d, 21, 3);  // duplicates: ties by id
  const auto extra = unit_rows(n_extra, d, 22);
  const auto extra_ids = shuffled_ids(n_extra, 23);  // 3i + 7: some equal own ids, excluded as "self"
  const auto given = unit_rows(64, d, 24);
  const auto given_ids = shuffled_ids(64, 25);
  std::vector<std::int64_t> q0, db0;
  for (std::int64_t x = 0; x < n_own + n_extra; x += 97) db0.push_back(x);
  for (std::int64_t x = n_own + n_extra - 1; x >= 0; x -= 41) q0.push_back(x);
  const std::vector<knn::SearchUnit> units = {
      {knn::RowSet::held_picks(q0.data(), static_cast<std::int64_t>(q0.size())),
       knn::RowSet::held_picks(db0.data(), static_cast<std::int64_t>(db0.size()))},
      {knn::RowSet::held_run(0, n_own), knn::RowSet{given.data(), given_ids.data(), 64}},  // > one batch of lists
      {knn::RowSet{given.data(), nullptr, 64}, knn::RowSet::held_run(1000, 20000)},
      {knn::RowSet::held_picks(q0.data(), 100), knn::RowSet{}},
      {knn::RowSet::held_run(5, 3000), knn::RowSet::held_picks(db0.data() + 10, 2000)},
  };
  knn::KnnLists lists[3];
  std::vector<std::int64_t> sums[3];
  std::vector<std::int32_t> cluster(q0.size());
  for (std::size_t i = 0; i < q0.size(); ++i) cluster[i] = static_cast<std::int32_t>((i * 13) % 50);
  const KnnBackend backends[3] = {KnnBackend::kCpu, KnnBackend::kCuda, KnnBackend::kCuda};
  for (int b = 0; b < 3; ++b) {
    const auto search = knn::make_block_search(backends[b], comm, b == 2 ? 1000 : 0);
    search->hold_own(own.data(), n_own, d, GlobalId(first));
    search->hold_extra(extra.data(), extra_ids.data(), n_extra);
    search->search_units(units, d, k, lists[b]);
    sums[b].assign(50 * d, 3);
    search->add_fixed_point_sums(knn::RowSet::held_picks(q0.data(), static_cast<std::int64_t>(q0.size())),
                                 cluster.data(), 50, d, sums[b].data());
    search->release_held();
  }
  expect_same(lists[0], lists[1], "held rows on the GPU");
  expect_same(lists[0], lists[2], "held rows on the host");
  EXPECT_EQ(sums[0], sums[1]);
  EXPECT_EQ(sums[0], sums[2]);
}

TEST(CudaIvf, TheSameListsAsTheCpu) {
  mpi::Comm comm;
  SKIP_WITHOUT_GPUS(comm);
  testing::ScratchDir dir(comm);
  SynthConfig s;
  s.docs = 30000;
  s.dim = 96;
  s.topics = 60;
  s.duplicate_share = 0.05;
  CorpusOptions co;
  co.path = testing::write_synth_corpus(comm, dir, s, "c.h5");
  const corpus::CorpusBlock block = corpus::read_corpus(comm, co);
  knn::ivf::IvfOptions o;
  o.k = 10;
  o.clusters = 128;
  o.train_sample = 64 * 128;
  o.recall_sample = 500;
  o.round_rows = 4000;  // several rounds, large clusters cut into pieces
  knn::ivf::IvfResult result[3];
  const KnnBackend backends[3] = {KnnBackend::kCpu, KnnBackend::kCuda, KnnBackend::kCuda};
  for (int b = 0; b < 3; ++b) {  // the third: rows held in host memory (--gpu-resident-rows below them)
    util::Report report(comm, "knn");
    const auto search = knn::make_block_search(backends[b], comm, b == 2 ? 100 : 0);
    result[b] = knn::ivf::ivf_knn(comm, knn::RowBlock{block.embeddings.data(), block.size(), GlobalId(block.range.begin)},
                                  block.info.dim, block.info.num_docs, o, *search, true, report);
  }
  EXPECT_EQ(result[0].centroids, result[1].centroids);
  EXPECT_EQ(result[0].probe, result[1].probe);
  EXPECT_EQ(result[0].recall, result[1].recall);
  EXPECT_GT(result[1].rounds, 1);
  expect_same(result[0].lists, result[1].lists, "ivf");
  EXPECT_EQ(result[0].centroids, result[2].centroids);
  EXPECT_EQ(result[0].recall, result[2].recall);
  expect_same(result[0].lists, result[2].lists, "ivf, rows held on the host");
}

}  // namespace
}  // namespace weave
