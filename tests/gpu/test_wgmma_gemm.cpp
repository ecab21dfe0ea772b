// The own wgmma GEMM (experiment) against cuBLASLt's (ScoreGemm) on the same BF16 rows: every
// score within one BF16 unit (the FP32 sums are taken in different orders, then rounded).
// Label gpu; skipped without a GPU, and without sm_90 (the kernel exists only for sm_90a).
#include <gtest/gtest.h>

#include <cmath>
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

void expect_same_scores(std::int64_t nq, std::int64_t nb, std::int64_t dim) {
  util::CounterRng rng(11, static_cast<std::uint64_t>(nq), static_cast<std::uint64_t>(dim));
  auto rows = [&](std::int64_t n) {
    std::vector<std::uint16_t> v(static_cast<std::size_t>(n * dim));
    for (auto& x : v) {
      const float f = static_cast<float>(rng.normal()) / std::sqrt(static_cast<float>(dim));
      std::uint32_t bits;
      std::memcpy(&bits, &f, 4);
      x = static_cast<std::uint16_t>((bits + 0x8000u) >> 16);  // round to BF16 (no NaNs here)
    }
    return v;
  };
  const auto queries = rows(nq), database = rows(nb);
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
