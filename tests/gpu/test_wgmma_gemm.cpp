// The own wgmma GEMM (experiment) against cuBLASLt's (ScoreGemm) on the same BF16 rows: every
// score within one BF16 unit (the FP32 sums are taken in different orders, then rounded); and its
// filtered form against cuBLASLt's FP32 scores: the candidates are exactly the pairs at or above
// each query's bar, up to the last bits of the FP32 sums.
// Label gpu; skipped without a GPU, and without sm_90 (the kernel exists only for sm_90a).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <cstring>
#include <vector>

#include <cuda_bf16.h>

#include "knn/cuda/cuda_check.hpp"
#include "knn/cuda/device_array.hpp"
#include "knn/cuda/gpu_device.hpp"
#include "knn/cuda/score_gemm.hpp"
#include "knn/cuda/wgmma_gemm.hpp"
#include "test_helpers.hpp"

namespace weave {
namespace {

bool has_sm90() {
  if (knn::cuda::visible_gpu_count() < 1) return false;
  cudaDeviceProp properties{};
  return cudaGetDeviceProperties(&properties, 0) == cudaSuccess && properties.major == 9;
}

float bf16_to_float(std::uint16_t bits) {
  const std::uint32_t wide = static_cast<std::uint32_t>(bits) << 16;
  float x;
  std::memcpy(&x, &wide, 4);
  return x;
}

std::vector<std::uint16_t> random_bf16_rows(util::CounterRng& rng, std::int64_t n, std::int64_t dim) {
  std::vector<std::uint16_t> v(static_cast<std::size_t>(n * dim));
  for (auto& x : v) {
    const float f = static_cast<float>(rng.normal()) / std::sqrt(static_cast<float>(dim));
    std::uint32_t bits;
    std::memcpy(&bits, &f, 4);
    x = static_cast<std::uint16_t>((bits + 0x8000u) >> 16);  // round to BF16 (no NaNs here)
  }
  return v;
}

void expect_same_scores(std::int64_t nq, std::int64_t nb, std::int64_t dim) {
  util::CounterRng rng(11, static_cast<std::uint64_t>(nq), static_cast<std::uint64_t>(dim));
  const auto queries = random_bf16_rows(rng, nq, dim), database = random_bf16_rows(rng, nb, dim);
  const std::int64_t ld = (nb + 7) / 8 * 8;
  knn::cuda::DeviceArray<std::uint16_t> q(queries.size(), "test"), x(database.size(), "test");
  knn::cuda::DeviceArray<std::uint16_t> mine(static_cast<std::size_t>(nq * ld), "test"),
      theirs(static_cast<std::size_t>(nq * ld), "test");
  knn::cuda::check(cudaMemcpy(q.data(), queries.data(), q.bytes(), cudaMemcpyHostToDevice), "cudaMemcpy");
  knn::cuda::check(cudaMemcpy(x.data(), database.data(), x.bytes(), cudaMemcpyHostToDevice), "cudaMemcpy");
  knn::cuda::WgmmaGemm wgmma(dim, ld);
  wgmma.run(q.data(), nq, x.data(), nb, mine.data(), nullptr);
  knn::cuda::ScoreGemm cublas(dim, ld, knn::cuda::ScoreGemm::Output::bf16_scores);
  cublas.run(x.data(), nb, q.data(), nq, theirs.data(), nullptr);
  knn::cuda::check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
  std::vector<std::uint16_t> a(mine.size()), b(theirs.size());
  knn::cuda::check(cudaMemcpy(a.data(), mine.data(), mine.bytes(), cudaMemcpyDeviceToHost), "cudaMemcpy");
  knn::cuda::check(cudaMemcpy(b.data(), theirs.data(), theirs.bytes(), cudaMemcpyDeviceToHost), "cudaMemcpy");
  std::int64_t off = 0, equal = 0;
  for (std::int64_t i = 0; i < nq; ++i)
    for (std::int64_t j = 0; j < nb; ++j) {
      const float u = bf16_to_float(a[i * ld + j]), v = bf16_to_float(b[i * ld + j]);
      equal += u == v ? 1 : 0;
      if (std::abs(u - v) > std::abs(v) * 0x1.0p-7f + 1e-6f && off++ < 5)
        ADD_FAILURE() << nq << "x" << nb << "x" << dim << ": query " << i << " row " << j << ": wgmma " << u
                      << ", cuBLASLt " << v;
    }
  std::printf("  %lldx%lldx%lld: %lld of %lld scores equal, %lld off by more than one BF16 unit\n",
              static_cast<long long>(nq), static_cast<long long>(nb), static_cast<long long>(dim),
              static_cast<long long>(equal), static_cast<long long>(nq * nb), static_cast<long long>(off));
  EXPECT_EQ(off, 0);
  EXPECT_GT(equal, nq * nb / 2) << "most scores should round the same way";
}

/// bar_rank > 0: each query's bar is its bar_rank-th best cuBLASLt score; 0: every bar is -inf.
void expect_filtered_candidates(std::int64_t nq, std::int64_t nb, std::int64_t dim, int bar_rank, int capacity) {
  util::CounterRng rng(13, static_cast<std::uint64_t>(nq), static_cast<std::uint64_t>(dim));
  const auto queries = random_bf16_rows(rng, nq, dim), database = random_bf16_rows(rng, nb, dim);
  const std::int64_t ld = (nb + 7) / 8 * 8;
  knn::cuda::DeviceArray<std::uint16_t> q(queries.size(), "test"), x(database.size(), "test");
  knn::cuda::check(cudaMemcpy(q.data(), queries.data(), q.bytes(), cudaMemcpyHostToDevice), "cudaMemcpy");
  knn::cuda::check(cudaMemcpy(x.data(), database.data(), x.bytes(), cudaMemcpyHostToDevice), "cudaMemcpy");
  knn::cuda::DeviceArray<float> scores(static_cast<std::size_t>(nq * ld), "test");
  knn::cuda::ScoreGemm cublas(dim, ld, knn::cuda::ScoreGemm::Output::fp32_scores);
  cublas.run(x.data(), nb, q.data(), nq, scores.data(), nullptr);
  std::vector<float> want(scores.size());
  knn::cuda::check(cudaMemcpy(want.data(), scores.data(), scores.bytes(), cudaMemcpyDeviceToHost), "cudaMemcpy");
  std::vector<float> bars(static_cast<std::size_t>(nq), -INFINITY);
  for (std::int64_t i = 0; bar_rank > 0 && i < nq; ++i) {
    std::vector<float> row(want.begin() + i * ld, want.begin() + i * ld + nb);
    std::nth_element(row.begin(), row.begin() + (bar_rank - 1), row.end(), std::greater<float>());
    bars[static_cast<std::size_t>(i)] = row[static_cast<std::size_t>(bar_rank - 1)];
  }
  knn::cuda::DeviceArray<float> device_bars(bars.size(), "test");
  knn::cuda::DeviceArray<knn::cuda::WgmmaGemm::Candidate> slots(static_cast<std::size_t>(nq * capacity), "test");
  knn::cuda::DeviceArray<int> counts(static_cast<std::size_t>(nq), "test");
  knn::cuda::check(cudaMemcpy(device_bars.data(), bars.data(), device_bars.bytes(), cudaMemcpyHostToDevice),
                   "cudaMemcpy");
  knn::cuda::check(cudaMemset(counts.data(), 0, counts.bytes()), "cudaMemset");
  knn::cuda::WgmmaGemm wgmma(dim, ld);
  wgmma.run_filtered(q.data(), nq, x.data(), nb, device_bars.data(), slots.data(), counts.data(), capacity, nullptr);
  knn::cuda::check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
  std::vector<knn::cuda::WgmmaGemm::Candidate> got(slots.size());
  std::vector<int> got_counts(counts.size());
  knn::cuda::check(cudaMemcpy(got.data(), slots.data(), slots.bytes(), cudaMemcpyDeviceToHost), "cudaMemcpy");
  knn::cuda::check(cudaMemcpy(got_counts.data(), counts.data(), counts.bytes(), cudaMemcpyDeviceToHost),
                   "cudaMemcpy");
  std::int64_t problems = 0, candidates = 0;
  auto fail = [&](const std::string& what) {
    if (problems++ < 5) ADD_FAILURE() << nq << "x" << nb << "x" << dim << ": " << what;
  };
  for (std::int64_t i = 0; i < nq; ++i) {
    const float bar = bars[static_cast<std::size_t>(i)];
    const int count = got_counts[static_cast<std::size_t>(i)];
    candidates += count;
    if (bar_rank == 0) {  // every pair passes: all counted, the first `capacity` kept
      if (count != nb) fail("query " + std::to_string(i) + ": count " + std::to_string(count));
      continue;
    }
    if (count > capacity) {
      fail("query " + std::to_string(i) + ": " + std::to_string(count) + " candidates, more than the capacity");
      continue;
    }
    std::vector<bool> listed(static_cast<std::size_t>(nb), false);
    for (int c = 0; c < count; ++c) {
      const auto& cand = got[static_cast<std::size_t>(i * capacity + c)];
      const float reference = want[static_cast<std::size_t>(i * ld + cand.column)];
      if (cand.column < 0 || cand.column >= nb || listed[static_cast<std::size_t>(cand.column)])
        fail("query " + std::to_string(i) + ": bad or repeated column " + std::to_string(cand.column));
      else
        listed[static_cast<std::size_t>(cand.column)] = true;
      if (std::abs(cand.score - reference) > 1e-4f) fail("query " + std::to_string(i) + ": score differs");
      if (reference < bar - 1e-4f) fail("query " + std::to_string(i) + ": a candidate well below the bar");
    }
    for (std::int64_t j = 0; j < nb; ++j)
      if (want[static_cast<std::size_t>(i * ld + j)] >= bar + 1e-4f && !listed[static_cast<std::size_t>(j)])
        fail("query " + std::to_string(i) + ": row " + std::to_string(j) + " above the bar is missing");
  }
  std::printf("  filtered %lldx%lldx%lld, bar rank %d: %lld candidates\n", static_cast<long long>(nq),
              static_cast<long long>(nb), static_cast<long long>(dim), bar_rank, static_cast<long long>(candidates));
  EXPECT_EQ(problems, 0);
}

TEST(WgmmaGemm, FilteredCandidatesAreThePairsAtTheBar) {
  if (!has_sm90()) GTEST_SKIP() << "no sm_90 GPU";
  knn::cuda::check(cudaSetDevice(0), "cudaSetDevice");
  expect_filtered_candidates(1000, 777, 768, 20, 64);
  expect_filtered_candidates(300, 4100, 136, 5, 32);
  expect_filtered_candidates(200, 500, 64, 0, 16);  // all pass: counted beyond the capacity
}

TEST(WgmmaGemm, MatchesCublasLt) {
  if (!has_sm90()) GTEST_SKIP() << "no sm_90 GPU";
  knn::cuda::check(cudaSetDevice(0), "cudaSetDevice");
  expect_same_scores(256, 256, 64);     // one tile, one k block
  expect_same_scores(1000, 777, 768);   // ragged in every direction, 12 k blocks
  expect_same_scores(4096, 4096, 136);  // dim not a multiple of 64 (TMA fills zeros)
  expect_same_scores(130, 4100, 768);   // many tiles per CTA along the database
}

}  // namespace
}  // namespace weave
