// The GPU backend against the CPU backend and the brute-force oracle: lists must be identical (ids
// and similarities, bit for bit; ties are broken by global id in both). Random d=768, clustered with
// near-duplicates, exact duplicates (long tie runs), tie-heavy grids, odd dimensions, k up to 1024,
// tiles and ring chunks that do not divide the corpus, BF16 and FP32 score tiles, own rows streamed
// from host memory in sub-blocks (--gpu-resident-rows).
// Label gpu; without a GPU per rank every test is skipped and the program exits 77 (ctest: skipped).
#include <gtest/gtest.h>

#include <cmath>

#include "corpus/corpus.hpp"
#include "knn/cpu/cpu_backend.hpp"
#include "knn/cuda/cuda_check.hpp"
#include "knn/cuda/device_array.hpp"
#include "knn/cuda/gpu_device.hpp"
#include "knn/cuda/select_kernels.hpp"
#include "knn/topk.hpp"
#include "knn/exact_ring.hpp"
#include "knn/identical_rows.hpp"
#include "test_helpers.hpp"
#include "util/report.hpp"

namespace weave {
namespace {

using testing::CorpusArrays;

bool every_rank_has_a_gpu(const mpi::Comm& comm) {
  const bool mine = knn::cuda::visible_gpu_count() >= knn::cuda::ranks_on_this_node(comm);
  return comm.min(mine ? 1 : 0) == 1;
}

#define SKIP_WITHOUT_GPUS(comm)                                                          \
  if (!every_rank_has_a_gpu(comm)) GTEST_SKIP() << "no GPU for every rank on this node"

struct Case {
  int k = 10;
  std::int64_t max_block_rows = 1 << 20;
  std::int64_t gpu_query_tile = 4096, gpu_database_tile = 4096;
  GpuScores scores = GpuScores::kBf16;
  std::int64_t resident_rows = 0;  ///< --gpu-resident-rows (0: all)
  std::size_t leave_free_bytes = 0;  ///< > 0: fill the GPU until this much is free before the search
  int select_sms = 0;  ///< --gpu-select-sms (> 0: the selection's warps take several rows each)
  GpuGemm gemm = GpuGemm::kAuto;  ///< --gpu-gemm
  bool expect_filtered = false;  ///< the own filtering GEMM must have taken tiles (on an H100/H200)
};

knn::KnnLists run(const mpi::Comm& comm, const corpus::CorpusBlock& block, const KnnConfig& config,
                  knn::SearchBackend& backend) {
  util::Report report(comm, "knn");
  return knn::exact_ring_knn(comm, knn::distributed_rows_of(block), {config.k, config.corpus.max_block_rows}, backend, report);
}

/// GPU lists == CPU lists, gathered on every rank; prints the candidates re-scored.
void expect_gpu_matches_cpu(const mpi::Comm& comm, const std::string& path, const Case& c) {
  KnnConfig config;
  config.corpus.path = path;
  config.corpus.max_block_rows = c.max_block_rows;
  config.k = c.k;
  config.backend = KnnBackend::kCuda;
  config.gpu_query_tile = c.gpu_query_tile;
  config.gpu_database_tile = c.gpu_database_tile;
  config.gpu_scores = c.scores;
  config.gpu_resident_rows = c.resident_rows;
  config.gpu_select_sms = c.select_sms;
  config.gpu_gemm = c.gemm;
  config.out = "unused";
  const corpus::CorpusBlock block = corpus::read_corpus(comm, config.corpus);
  auto gpu = knn::make_backend(config, comm);
  knn::cuda::DeviceArray<std::byte> ballast;
  if (c.leave_free_bytes > 0) {
    std::size_t free_bytes = 0, total_bytes = 0;
    knn::cuda::check(cudaMemGetInfo(&free_bytes, &total_bytes), "cudaMemGetInfo");
    if (free_bytes > c.leave_free_bytes)
      ballast = knn::cuda::DeviceArray<std::byte>(free_bytes - c.leave_free_bytes, "the test's ballast");
  }
  const knn::KnnLists got = run(comm, block, config, *gpu);
  ballast = {};
  knn::CpuBackend cpu(comm, config.query_tile, config.database_tile);
  const knn::KnnLists want = run(comm, block, config, cpu);

  const auto got_ids = testing::allgather_concat(comm, got.neighbors);
  const auto got_sims = testing::allgather_concat(comm, got.similarities);
  const auto want_ids = testing::allgather_concat(comm, want.neighbors);
  const auto want_sims = testing::allgather_concat(comm, want.similarities);
  ASSERT_EQ(got_ids.size(), want_ids.size());
  std::int64_t tie_swaps = 0, wrong = 0;
  for (std::size_t i = 0; i < got_ids.size(); ++i) {
    const bool same_sim = (std::isnan(got_sims[i]) && std::isnan(want_sims[i])) || got_sims[i] == want_sims[i];
    if (got_ids[i] == want_ids[i] && same_sim) continue;
    if (std::abs(got_sims[i] - want_sims[i]) <= 1e-6f) ++tie_swaps;
    else ++wrong;
    if (tie_swaps + wrong <= 5)
      ADD_FAILURE() << path << " k=" << c.k << " " << to_string(c.scores) << ": document " << i / c.k << " neighbour "
                    << i % c.k << ": gpu " << got_ids[i] << " (" << got_sims[i] << "), cpu " << want_ids[i] << " ("
                    << want_sims[i] << ")";
  }
  double rescored = 0, uploads = 0, own_gemm = 0, filtered = 0, pieces = 0;
  for (const auto& [name, value] : gpu->counters()) {
    if (name == "rescored_pairs") rescored = comm.sum(value);
    if (name == "gpu_query_uploads") uploads = comm.max(value);
    if (name == "gpu_own_gemm") own_gemm = comm.min(value);
    if (name == "gpu_filtered_tiles") filtered = comm.sum(value);
    if (name == "gpu_upload_pieces") pieces = comm.min(value);
  }
  if (comm.is_root())
    std::printf("  %s k=%d scores=%s tiles=%lldx%lld chunk=%lld select_sms=%d: %zu entries, %lld differ within 1e-6 (ties), "
                "%lld differ, %.0f candidates re-scored (%.2f per entry), %.0f query uploads, %.0f tiles filtered, "
                "%.0f upload pieces\n",
                path.substr(path.rfind('/') + 1).c_str(), c.k, to_string(c.scores),
                static_cast<long long>(c.gpu_query_tile), static_cast<long long>(c.gpu_database_tile),
                static_cast<long long>(c.max_block_rows), c.select_sms, got_ids.size(), static_cast<long long>(tie_swaps),
                static_cast<long long>(wrong), rescored, rescored / static_cast<double>(got_ids.size()), uploads,
                filtered, pieces);
  // With a group of more than k + 1 identical rows, the backend searches one row per group
  // (knn/identical_rows.hpp): the machinery counters below depend on the rows it searched.
  const knn::IdenticalRows identical = knn::group_identical_rows(block.embeddings.data(), block.size(), block.info.dim);
  std::int64_t largest = 0;
  for (std::int64_t g = 0; g < identical.groups(); ++g) largest = std::max(largest, identical.size_of(g));
  const bool none_folded = comm.max(largest) <= c.k + 1;
  const std::int64_t searched_rows = comm.min(none_folded ? block.size() : identical.groups());
  if (c.expect_filtered && own_gemm > 0 && none_folded)
    EXPECT_GT(filtered, 0) << "the case is meant for the own filtering GEMM";
  if ((c.resident_rows > 0 && c.resident_rows < searched_rows) || c.leave_free_bytes > 0)
    EXPECT_GT(uploads, 1) << "the case is meant to stream the queries";
  else if (c.resident_rows == 0 && searched_rows > c.gpu_query_tile + 1)
    // All own rows on the GPU: they went up in pieces of a query tile while the first step searched.
    EXPECT_GT(pieces, 1) << "the own rows are meant to go up piece by piece";
  EXPECT_EQ(wrong, 0);
  EXPECT_EQ(tie_swaps, 0) << "ties are broken by global id on both backends, so even ties must agree";
}


TEST(CudaKnn, CanonicalSimilarityBitsEqualTheCpu) {
  // Rows on which the float64 summation order shows in the float result (tests/unit/test_canonical
  // shows a sequential sum differs in about half the cases): the warp's sum must be the CPU's.
  mpi::Comm comm;
  SKIP_WITHOUT_GPUS(comm);
  knn::cuda::select_gpu(comm);
  util::CounterRng rng(7, 7, static_cast<std::uint64_t>(comm.rank()));
  for (std::int64_t d : {2, 5, 128, 300, 768, 1000, 1540}) {  // 1540: two batches of loads per lane
    const std::int64_t pairs = 500;
    std::vector<float> a, b, row_a, row_b;
    for (std::int64_t i = 0; i < pairs; ++i) {
      testing::order_sensitive_rows(rng, static_cast<std::size_t>(d), row_a, row_b);
      a.insert(a.end(), row_a.begin(), row_a.end());
      b.insert(b.end(), row_b.begin(), row_b.end());
    }
    knn::cuda::DeviceArray<float> da(a.size(), "test"), db(b.size(), "test"), out(pairs, "test");
    knn::cuda::check(cudaMemcpy(da.data(), a.data(), da.bytes(), cudaMemcpyHostToDevice), "cudaMemcpy");
    knn::cuda::check(cudaMemcpy(db.data(), b.data(), db.bytes(), cudaMemcpyHostToDevice), "cudaMemcpy");
    knn::cuda::canonical_similarities(da.data(), db.data(), pairs, d, out.data(), nullptr);
    std::vector<float> got(static_cast<std::size_t>(pairs));
    knn::cuda::check(cudaMemcpy(got.data(), out.data(), out.bytes(), cudaMemcpyDeviceToHost), "cudaMemcpy");
    int differ = 0;
    for (std::int64_t i = 0; i < pairs; ++i)
      differ += got[i] != knn::canonical_similarity(&a[i * d], &b[i * d], d) ? 1 : 0;
    EXPECT_EQ(differ, 0) << "d=" << d << ": " << differ << " of " << pairs << " pairs differ from the CPU";
  }
}

TEST(CudaKnn, Random768MatchesCpu) {
  mpi::Comm comm;
  SKIP_WITHOUT_GPUS(comm);
  testing::ScratchDir dir(comm);
  const auto path = testing::write_corpus_on_root(comm, dir, "random768.h5", testing::random_corpus(3001, 768, 31));
  expect_gpu_matches_cpu(comm, path, {});
  expect_gpu_matches_cpu(comm, path, {10, 1 << 20, 4096, 4096, GpuScores::kFp32});
  Case ragged{10, 700, 1000, 333};  // tiles and chunks that do not divide n
  ragged.expect_filtered = true;
  expect_gpu_matches_cpu(comm, path, ragged);
  expect_gpu_matches_cpu(comm, path, {1});
  // Own rows streamed: sub-blocks of 700 and of 1500 rows (tiles across their ends), chunks of 700.
  expect_gpu_matches_cpu(comm, path, {10, 1 << 20, 256, 256, GpuScores::kBf16, 700});
  expect_gpu_matches_cpu(comm, path, {10, 700, 1000, 333, GpuScores::kBf16, 1500});
  // The selection on 2 SMs beside the GEMM: each warp scans many rows (and prefetches the next).
  Case beside{10, 1 << 20, 1024, 2048, GpuScores::kBf16};
  beside.select_sms = 2;
  expect_gpu_matches_cpu(comm, path, beside);
  beside.scores = GpuScores::kFp32;
  beside.k = 40;  // lists in GPU memory, not registers
  expect_gpu_matches_cpu(comm, path, beside);
}

TEST(CudaKnn, StreamsWhenTheRowsDoNotFit) {
  // --gpu-resident-rows 0 (the default): with the GPU filled until 1 GiB (the backend's margin for
  // cuBLASLt, NCCL and the heap) + 10 MB is free, 20,000 rows of 128 floats (15 MB as FP32 + BF16)
  // no longer fit next to the lists and chunks, so the backend picks sub-blocks itself.
  mpi::Comm comm;
  SKIP_WITHOUT_GPUS(comm);
  testing::ScratchDir dir(comm);
  const auto path = testing::write_corpus_on_root(comm, dir, "stream.h5", testing::random_corpus(20000, 128, 17));
  Case c{10, 2000, 512, 512, GpuScores::kBf16};
  c.leave_free_bytes = (std::size_t{1} << 30) + (std::size_t{10} << 20);
  expect_gpu_matches_cpu(comm, path, c);
}

TEST(CudaKnn, ClusteredWithNearDuplicates) {
  mpi::Comm comm;
  SKIP_WITHOUT_GPUS(comm);
  testing::ScratchDir dir(comm);
  SynthConfig s;
  s.docs = 4003;
  s.dim = 128;
  s.topics = 12;
  s.topic_spread = 0.3;
  s.duplicate_share = 0.3;
  const auto path = testing::write_synth_corpus(comm, dir, s, "clustered.h5");
  expect_gpu_matches_cpu(comm, path, {10});
  expect_gpu_matches_cpu(comm, path, {100, 1500, 512, 1024, GpuScores::kFp32});
  expect_gpu_matches_cpu(comm, path, {100, 1500, 512, 1024, GpuScores::kBf16});
  expect_gpu_matches_cpu(comm, path, {31, 1500, 512, 4000, GpuScores::kBf16});  // the largest k with lists in registers
  expect_gpu_matches_cpu(comm, path, {32, 1500, 512, 4000, GpuScores::kBf16});
}

TEST(CudaKnn, ExactDuplicatesTieOnGlobalId) {
  mpi::Comm comm;
  SKIP_WITHOUT_GPUS(comm);
  testing::ScratchDir dir(comm);
  // 50 distinct rows, each stored 60 times: 59 exact copies tied at similarity 1 per document, more
  // than one 32-candidate batch, so the list order rests on the tie-break alone.
  const CorpusArrays c = testing::duplicated_corpus(50, 60, 64, 3);
  const auto path = testing::write_corpus_on_root(comm, dir, "dups.h5", c);
  expect_gpu_matches_cpu(comm, path, {10});
  expect_gpu_matches_cpu(comm, path, {64, 999, 256, 200});
  expect_gpu_matches_cpu(comm, path, {200, 1 << 20, 4096, 4096, GpuScores::kFp32});
  expect_gpu_matches_cpu(comm, path, {64, 999, 256, 200, GpuScores::kBf16, 600});
  // 5 rows, 400 copies each, interleaved: after a query's first tile, each 1000-row tile holds 200
  // pairs tied at its bar, spread over all its 256-row pieces, which the own GEMM stores and the
  // merge takes in turn (and the same on cuBLASLt for comparison).
  const auto many = testing::write_corpus_on_root(comm, dir, "many_dups.h5", testing::duplicated_corpus(5, 400, 64, 4));
  Case overflow{10, 1 << 20, 512, 1000, GpuScores::kBf16};
  overflow.expect_filtered = true;
  expect_gpu_matches_cpu(comm, many, overflow);
  overflow.expect_filtered = false;
  overflow.gemm = GpuGemm::kCublasLt;
  expect_gpu_matches_cpu(comm, many, overflow);
}

TEST(CudaKnn, TieHeavyGridAndOddDimensions) {
  mpi::Comm comm;
  SKIP_WITHOUT_GPUS(comm);
  testing::ScratchDir dir(comm);
  for (std::int64_t d : {3, 4, 5}) {
    const CorpusArrays c = testing::grid_corpus(1200, d, 5);
    const auto path = testing::write_corpus_on_root(comm, dir, "grid" + std::to_string(d) + ".h5", c);
    expect_gpu_matches_cpu(comm, path, {12});
    expect_gpu_matches_cpu(comm, path, {12, 500, 300, 100, GpuScores::kFp32});
  }
}

TEST(CudaKnn, LargeKAndTinyCorpus) {
  mpi::Comm comm;
  SKIP_WITHOUT_GPUS(comm);
  testing::ScratchDir dir(comm);
  const auto path = testing::write_corpus_on_root(comm, dir, "k1024.h5", testing::random_corpus(1500, 32, 7));
  expect_gpu_matches_cpu(comm, path, {1024});
  expect_gpu_matches_cpu(comm, path, {1024, 600, 256, 512, GpuScores::kFp32});
  const auto tiny = testing::write_corpus_on_root(comm, dir, "tiny.h5", testing::random_corpus(7, 16, 8));
  expect_gpu_matches_cpu(comm, tiny, {10});  // 6 neighbours each, then -1 / NaN
}

}  // namespace
}  // namespace weave
