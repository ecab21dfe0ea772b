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
  std::vector<std::int64_t> off_by_block(static_cast<std::size_t>((nq + 63) / 64 * ((nb + 255) / 256)), 0);
  for (std::int64_t i = 0; i < nq; ++i)
    for (std::int64_t j = 0; j < nb; ++j) {
      const float u = bf16_to_float(a[i * ld + j]), v = bf16_to_float(b[i * ld + j]);
      equal += u == v ? 1 : 0;
      if (std::abs(u - v) > std::abs(v) * 0x1.0p-7f + 1e-6f) {
        ++off_by_block[static_cast<std::size_t>(i / 64 * ((nb + 255) / 256) + j / 256)];
        if (off++ < 5)
          ADD_FAILURE() << nq << "x" << nb << "x" << dim << ": query " << i << " row " << j << ": wgmma " << u
                        << ", cuBLASLt " << v;
      }
    }
  for (std::size_t blk = 0; off > 0 && blk < off_by_block.size(); ++blk)  // where they are: 64 queries x 256 rows
    if (off_by_block[blk] > 0)
      std::printf("    queries from %lld, rows from %lld: %lld off\n",
                  static_cast<long long>(blk / ((nb + 255) / 256) * 64),
                  static_cast<long long>(blk % ((nb + 255) / 256) * 256), static_cast<long long>(off_by_block[blk]));
  std::printf("  %lldx%lldx%lld: %lld of %lld scores equal, %lld off by more than one BF16 unit\n",
              static_cast<long long>(nq), static_cast<long long>(nb), static_cast<long long>(dim),
              static_cast<long long>(equal), static_cast<long long>(nq * nb), static_cast<long long>(off));
  EXPECT_EQ(off, 0);
  EXPECT_GT(equal, nq * nb / 2) << "most scores should round the same way";
}

template <typename T>
std::vector<T> fetch(const knn::cuda::DeviceArray<T>& device) {
  std::vector<T> host(device.size());
  knn::cuda::check(cudaMemcpy(host.data(), device.data(), device.bytes(), cudaMemcpyDeviceToHost), "cudaMemcpy");
  return host;
}

/// bar_rank > 0: each query's bar is its bar_rank-th best cuBLASLt score; 0: every bar is -inf.
void expect_filtered_pieces(std::int64_t nq, std::int64_t nb, std::int64_t dim, int bar_rank) {
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
  const int words = knn::cuda::WgmmaGemm::stored_words(nb);
  knn::cuda::DeviceArray<float> device_bars(bars.size(), "test");
  knn::cuda::DeviceArray<std::uint16_t> pieces(static_cast<std::size_t>(nq * ld), "test");
  knn::cuda::DeviceArray<unsigned> stored(static_cast<std::size_t>(nq * words), "test");
  knn::cuda::DeviceArray<int> marks(static_cast<std::size_t>(nq), "test"), busy_rows(static_cast<std::size_t>(nq), "test"),
      busy_count(1, "test");
  knn::cuda::check(cudaMemcpy(device_bars.data(), bars.data(), device_bars.bytes(), cudaMemcpyHostToDevice),
                   "cudaMemcpy");
  knn::cuda::check(cudaMemset(stored.data(), 0, stored.bytes()), "cudaMemset");
  knn::cuda::check(cudaMemset(marks.data(), 0, marks.bytes()), "cudaMemset");
  knn::cuda::check(cudaMemset(busy_count.data(), 0, busy_count.bytes()), "cudaMemset");
  knn::cuda::WgmmaGemm wgmma(dim, ld);
  knn::cuda::WgmmaGemm::Filter filter;
  filter.bars = device_bars.data();
  filter.pieces = pieces.data();
  filter.stored = stored.data();
  filter.stored_words = words;
  filter.marks = marks.data();
  filter.busy_rows = busy_rows.data();
  filter.busy_count = busy_count.data();
  wgmma.run_filtered(q.data(), nq, x.data(), nb, filter, nullptr);
  knn::cuda::check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
  const auto got_pieces = fetch(pieces);
  const auto got_stored = fetch(stored);
  const auto got_marks = fetch(marks);
  const auto got_busy = fetch(busy_rows);
  const int busy = fetch(busy_count)[0];
  std::vector<int> listed(static_cast<std::size_t>(nq), 0);
  for (int b = 0; b < std::min<int>(busy, static_cast<int>(nq)); ++b) {
    const int row = got_busy[static_cast<std::size_t>(b)];
    if (row >= 0 && row < nq) ++listed[static_cast<std::size_t>(row)];
  }
  std::int64_t problems = 0, stored_pieces = 0, needed_pieces = 0;
  auto fail = [&](const std::string& what) {
    if (problems++ < 5) ADD_FAILURE() << nq << "x" << nb << "x" << dim << ": " << what;
  };
  const std::int64_t piece_rows = knn::cuda::WgmmaGemm::kPieceRows;
  for (std::int64_t i = 0; i < nq; ++i) {
    const float bar = bars[static_cast<std::size_t>(i)];
    int pieces_of_row = 0;
    for (std::int64_t piece = 0; piece * piece_rows < nb; ++piece) {
      const bool flagged = (got_stored[static_cast<std::size_t>(i * words + piece / 32)] >> (piece % 32) & 1u) != 0;
      pieces_of_row += flagged ? 1 : 0;
      // Stored iff some FP32 score of the piece reaches the bar (up to the last bits of the sums).
      float most = -INFINITY;
      for (std::int64_t j = piece * piece_rows; j < std::min(nb, (piece + 1) * piece_rows); ++j)
        most = std::max(most, want[static_cast<std::size_t>(i * ld + j)]);
      needed_pieces += most >= bar ? 1 : 0;
      if (!flagged && most >= bar + 1e-4f)
        fail("query " + std::to_string(i) + ": piece " + std::to_string(piece) + " reaches the bar, not stored");
      if (flagged && most < bar - 1e-4f)
        fail("query " + std::to_string(i) + ": piece " + std::to_string(piece) + " stored, well below the bar");
      for (std::int64_t j = piece * piece_rows; flagged && j < std::min(nb, (piece + 1) * piece_rows); ++j) {
        const float reference = want[static_cast<std::size_t>(i * ld + j)];
        const float got = bf16_to_float(got_pieces[static_cast<std::size_t>(i * ld + j)]);
        if (std::abs(got - reference) > std::abs(reference) * 0x1.0p-7f + 1e-4f)
          fail("query " + std::to_string(i) + ": row " + std::to_string(j) + " of a stored piece differs");
      }
    }
    stored_pieces += pieces_of_row;
    if (got_marks[static_cast<std::size_t>(i)] != pieces_of_row)
      fail("query " + std::to_string(i) + ": marks " + std::to_string(got_marks[static_cast<std::size_t>(i)]) +
           ", pieces " + std::to_string(pieces_of_row));
    if (listed[static_cast<std::size_t>(i)] != (pieces_of_row > 0 ? 1 : 0))
      fail("query " + std::to_string(i) + ": listed busy " + std::to_string(listed[static_cast<std::size_t>(i)]) +
           " times, with " + std::to_string(pieces_of_row) + " pieces");
  }
  std::printf("  filtered %lldx%lldx%lld, bar rank %d: %lld pieces stored (%lld reach the bar on cuBLASLt's sums)\n",
              static_cast<long long>(nq), static_cast<long long>(nb), static_cast<long long>(dim), bar_rank,
              static_cast<long long>(stored_pieces), static_cast<long long>(needed_pieces));
  EXPECT_EQ(problems, 0);
}

TEST(WgmmaGemm, FilteredPiecesHoldThePairsAtTheBar) {
  if (!has_sm90()) GTEST_SKIP() << "no sm_90 GPU";
  knn::cuda::check(cudaSetDevice(0), "cudaSetDevice");
  expect_filtered_pieces(1000, 777, 768, 20);
  expect_filtered_pieces(300, 4100, 136, 5);
  expect_filtered_pieces(300, 9000, 136, 1);  // pieces in two words of bits
  expect_filtered_pieces(200, 500, 64, 0);    // everything passes: every piece stored
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
