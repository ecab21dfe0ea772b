// The GEMM baseline of the GPU kNN benchmark: the tensor-core rate of the score tiles alone.
// Times, with CUDA events, (1) cuBLASLt BF16 GEMMs over every (query tile, database tile) pair of an
// N x N search with the tile shape and score type weave uses (knn/cuda/score_gemm.hpp: the same
// cuBLASLt call, nothing else), and (2) one large square BF16 GEMM as the chip's reference rate.
// Inputs are random (never zeros: they run faster than real data).
// Usage: gemm_rate_cuda N DIM QUERY_TILE DATABASE_TILE bf16|fp32 [SM_COUNT [wgmma|wgmma-filter]]
// (SM_COUNT: the tile GEMMs limited to that many SMs, as weave's with --gpu-select-sms; wgmma: the
// tiles by the own wgmma GEMM of knn/cuda/wgmma_gemm.hpp instead of cuBLASLt, BF16 only;
// wgmma-filter: its filtered form with every bar at +inf, i.e. the products without any store.)
// Prints: RESULT tile_tflops=... tile_seconds=... square_tflops=...
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "knn/cuda/cuda_check.hpp"
#include "knn/cuda/device_array.hpp"
#include "knn/cuda/score_gemm.hpp"
#include "knn/cuda/stream.hpp"
#include "knn/cuda/wgmma_gemm.hpp"

using namespace weave::knn::cuda;

namespace {

DeviceArray<std::uint16_t> random_bf16(std::size_t count, std::uint64_t seed) {
  std::vector<std::uint16_t> host(count);
  std::uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  for (auto& v : host) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    // sign, exponent around 2^-5 (unit rows of a few hundred dims), random mantissa
    v = static_cast<std::uint16_t>(((x >> 63) << 15) | ((0x7A + (x >> 40) % 3) << 7) | ((x >> 20) & 0x7F));
  }
  DeviceArray<std::uint16_t> device(count, "benchmark rows");
  check(cudaMemcpy(device.data(), host.data(), count * 2, cudaMemcpyHostToDevice), "cudaMemcpy");
  return device;
}

template <typename F>
double time_seconds(F&& f, cudaStream_t stream) {
  Event start(/*timing=*/true), stop(/*timing=*/true);
  start.record(stream);
  f();
  stop.record(stream);
  stop.synchronize();
  return stop.elapsed_ms(start) / 1e3;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 6 || argc > 8) {
    std::fprintf(stderr, "usage: %s N DIM QUERY_TILE DATABASE_TILE bf16|fp32 [SM_COUNT [wgmma|wgmma-filter]]\n", argv[0]);
    return 2;
  }
  const std::int64_t n = std::atoll(argv[1]), d = std::atoll(argv[2]);
  const std::int64_t qt = std::atoll(argv[3]), bt = std::atoll(argv[4]);
  const bool bf16_scores = std::string(argv[5]) == "bf16";
  const std::int64_t ld = (bt + 7) / 8 * 8;
  const int sm_count = argc >= 7 ? std::atoi(argv[6]) : 0;
  const std::string engine = argc == 8 ? argv[7] : "cublaslt";
  const bool own = engine == "wgmma" || engine == "wgmma-filter";
  const bool filter = engine == "wgmma-filter";
  try {
    cudaStream_t stream;
    check(cudaStreamCreate(&stream), "cudaStreamCreate");
    const auto rows = random_bf16(static_cast<std::size_t>(n * d), 1);
    DeviceArray<std::byte> scores(static_cast<std::size_t>(qt * ld) * (bf16_scores ? 2 : 4), "score tile");
    ScoreGemm gemm(d, ld, bf16_scores ? ScoreGemm::Output::bf16_scores : ScoreGemm::Output::fp32_scores,
                   sm_count);
    std::optional<WgmmaGemm> wgmma;
    if (own) wgmma.emplace(d, ld);
    DeviceArray<float> bars(static_cast<std::size_t>(qt), "bars");
    DeviceArray<unsigned> stored(static_cast<std::size_t>(qt * WgmmaGemm::stored_words(bt)), "stored");
    DeviceArray<int> marks(static_cast<std::size_t>(qt), "marks"), busy_rows(static_cast<std::size_t>(qt), "busy rows"),
        busy_count(1, "busy count");
    WgmmaGemm::Filter filter_out;
    filter_out.bars = bars.data();
    filter_out.pieces = reinterpret_cast<std::uint16_t*>(scores.data());
    filter_out.stored = stored.data();
    filter_out.stored_words = WgmmaGemm::stored_words(bt);
    filter_out.marks = marks.data();
    filter_out.busy_rows = busy_rows.data();
    filter_out.busy_count = busy_count.data();
    if (filter) {
      const std::vector<float> infinite(static_cast<std::size_t>(qt), std::numeric_limits<float>::infinity());
      check(cudaMemcpy(bars.data(), infinite.data(), bars.bytes(), cudaMemcpyHostToDevice), "cudaMemcpy");
      check(cudaMemset(stored.data(), 0, stored.bytes()), "cudaMemset");
      check(cudaMemset(marks.data(), 0, marks.bytes()), "cudaMemset");
      check(cudaMemset(busy_count.data(), 0, busy_count.bytes()), "cudaMemset");
    }
    auto tile = [&](std::int64_t q0, std::int64_t b0) {
      if (filter)
        wgmma->run_filtered(rows.data() + q0 * d, std::min(qt, n - q0), rows.data() + b0 * d, std::min(bt, n - b0),
                            filter_out, stream);
      else if (own)
        wgmma->run(rows.data() + q0 * d, std::min(qt, n - q0), rows.data() + b0 * d, std::min(bt, n - b0),
                  reinterpret_cast<std::uint16_t*>(scores.data()), stream);
      else
        gemm.run(rows.data() + b0 * d, std::min(bt, n - b0), rows.data() + q0 * d, std::min(qt, n - q0),
                 scores.data(), stream);
    };
    auto all_tiles = [&] {
      for (std::int64_t q0 = 0; q0 < n; q0 += qt)
        for (std::int64_t b0 = 0; b0 < n; b0 += bt) tile(q0, b0);
    };
    // Warm-up: plans (each shape's algorithms are timed on first use, as in weave), module loads, clocks.
    const std::int64_t last_q = (n - 1) / qt * qt, last_b = (n - 1) / bt * bt;
    time_seconds([&] {
      tile(last_q, last_b);
      tile(last_q, 0);
      tile(0, last_b);
      for (int i = 0; i < 50; ++i) tile(0, 0);
    }, stream);
    const double tile_seconds = time_seconds(all_tiles, stream);
    const double tile_tflops = 2.0 * n * n * d / tile_seconds / 1e12;

    const std::int64_t s = 8192;
    const auto a = random_bf16(static_cast<std::size_t>(s * s), 2);
    const auto b = random_bf16(static_cast<std::size_t>(s * s), 3);
    DeviceArray<std::byte> c(static_cast<std::size_t>(s * s) * 2, "square result");
    ScoreGemm square(s, s, ScoreGemm::Output::bf16_scores);
    square.run(a.data(), s, b.data(), s, c.data(), stream);
    const double square_seconds = time_seconds([&] { for (int i = 0; i < 10; ++i) square.run(a.data(), s, b.data(), s, c.data(), stream); }, stream) / 10;
    const double square_tflops = 2.0 * s * s * s / square_seconds / 1e12;
    std::printf("%s BF16 GEMM, %lld x %lld x %lld in %lld x %lld tiles (%s scores, SMs %d): %.3f s, %.1f TFLOP/s\n",
                filter ? "own wgmma, filtered (no store)" : own ? "own wgmma" : "cuBLASLt", static_cast<long long>(n), static_cast<long long>(n),
                static_cast<long long>(d), static_cast<long long>(qt), static_cast<long long>(bt), argv[5], sm_count, tile_seconds, tile_tflops);
    std::printf("cuBLASLt BF16 GEMM, 8192^3 (square reference): %.1f TFLOP/s\n", square_tflops);
    std::printf("RESULT tile_tflops=%.2f tile_seconds=%.4f square_tflops=%.2f\n", tile_tflops, tile_seconds,
                square_tflops);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gemm_rate_cuda: %s\n", e.what());
    return 1;
  }
  return 0;
}
