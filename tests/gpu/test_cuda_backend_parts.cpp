// The two parts of the GPU backend, each alone: OwnRows (the own rows on the GPU, all resident and
// uploaded piece by piece, or streamed in sub-blocks) against the host rows and a host BF16
// conversion; TileSearch (the lists and their tiles: cuBLASLt or the own filtering GEMM, BF16 or
// FP32 scores, the selection beside the GEMM) against brute force, lists identical bit for bit.
// Label gpu; without a GPU every test is skipped and the program exits 77 (ctest: skipped).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "knn/cuda/cuda_check.hpp"
#include "knn/cuda/device_array.hpp"
#include "knn/cuda/gpu_device.hpp"
#include "knn/cuda/own_rows.hpp"
#include "knn/cuda/select_kernels.hpp"
#include "knn/cuda/tile_search.hpp"
#include "test_helpers.hpp"

namespace weave {
namespace {

namespace cuda = knn::cuda;

#define SKIP_WITHOUT_GPU()                                                                 \
  if (cuda::visible_gpu_count() < 1 || !cuda::kernels_available()) GTEST_SKIP() << "no GPU"

/// n unit rows of dim floats (normal entries, normalised in float64).
std::vector<float> unit_rows(std::int64_t n, std::int64_t dim, std::uint64_t seed) {
  util::CounterRng rng(seed, static_cast<std::uint64_t>(n), static_cast<std::uint64_t>(dim));
  std::vector<float> rows(static_cast<std::size_t>(n * dim));
  for (std::int64_t i = 0; i < n; ++i) {
    double sum = 0;
    for (std::int64_t j = 0; j < dim; ++j) {
      const double x = rng.normal();
      rows[i * dim + j] = static_cast<float>(x);
      sum += x * x;
    }
    for (std::int64_t j = 0; j < dim; ++j) rows[i * dim + j] = static_cast<float>(rows[i * dim + j] / std::sqrt(sum));
  }
  return rows;
}

/// BF16 by round to nearest even, the conversion the GEMM's rows must have (no NaNs here).
std::uint16_t to_bf16(float x) {
  std::uint32_t bits;
  std::memcpy(&bits, &x, 4);
  return static_cast<std::uint16_t>((bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16);
}

float from_bf16(std::uint16_t bits) {
  const std::uint32_t wide = static_cast<std::uint32_t>(bits) << 16;
  float x;
  std::memcpy(&x, &wide, 4);
  return x;
}

template <typename T>
std::vector<T> download(const T* device, std::int64_t count) {
  std::vector<T> host(static_cast<std::size_t>(count));
  cuda::check(cudaMemcpy(host.data(), device, host.size() * sizeof(T), cudaMemcpyDeviceToHost), "cudaMemcpy");
  return host;
}

/// Rows [first, first + count) on the GPU are the host rows, their BF16 copy rounds to nearest even,
/// and their norms are |bf16 row| and (rounded up) |row - bf16 row|.
void expect_rows_on_gpu(cuda::OwnRows& own, const std::vector<float>& rows, std::int64_t dim, std::int64_t first,
                        std::int64_t count) {
  const auto got32 = download(own.rows32(first), count * dim);
  const auto got16 = download(own.rows16(first), count * dim);
  const auto norm = download(own.norm(first), count);
  const auto residual = download(own.residual(first), count);
  std::int64_t wrong32 = 0, wrong16 = 0, wrong_norm = 0;
  for (std::int64_t i = 0; i < count; ++i) {
    double bf16_sum = 0, residual_sum = 0;
    for (std::int64_t j = 0; j < dim; ++j) {
      const float x = rows[(first + i) * dim + j];
      const std::uint16_t h = to_bf16(x);
      wrong32 += got32[i * dim + j] != x ? 1 : 0;
      wrong16 += got16[i * dim + j] != h ? 1 : 0;
      bf16_sum += static_cast<double>(from_bf16(h)) * from_bf16(h);
      residual_sum += (static_cast<double>(x) - from_bf16(h)) * (static_cast<double>(x) - from_bf16(h));
    }
    const bool norm_ok = std::abs(norm[i] - std::sqrt(bf16_sum)) <= 1e-5 * std::sqrt(bf16_sum);
    const bool residual_ok = residual[i] >= std::sqrt(residual_sum) * (1 - 1e-6) &&
                             residual[i] <= std::sqrt(residual_sum) * 1.01 + 1e-12;
    wrong_norm += norm_ok && residual_ok ? 0 : 1;
  }
  EXPECT_EQ(wrong32, 0) << "FP32 values differ from the host rows";
  EXPECT_EQ(wrong16, 0) << "BF16 values not rounded to nearest even";
  EXPECT_EQ(wrong_norm, 0) << "rows with a wrong norm or residual";
}

TEST(OwnRows, AllResidentGoUpPieceByPiece) {
  SKIP_WITHOUT_GPU();
  const std::int64_t n = 5000, dim = 96, piece = 1024;
  const auto rows = unit_rows(n, dim, 1);
  cuda::OwnRows own({rows.data(), n, GlobalId{100}}, dim, /*resident_rows=*/n, piece, /*chunk_rows=*/2000);
  EXPECT_FALSE(own.streaming());
  EXPECT_TRUE(own.uploading());
  EXPECT_EQ(own.upload_pieces(), 0);  // nothing goes up before it is needed
  cuda::Stream stream;
  own.make_wait(stream, 1500);  // two pieces
  EXPECT_TRUE(own.queued_through(2048));
  EXPECT_FALSE(own.queued_through(2049));
  EXPECT_EQ(own.upload_pieces(), 2);
  stream.synchronize();
  expect_rows_on_gpu(own, rows, dim, 0, 1500);
  own.make_wait(stream, n);
  EXPECT_FALSE(own.uploading());
  EXPECT_EQ(own.upload_pieces(), 5);
  stream.synchronize();
  expect_rows_on_gpu(own, rows, dim, 0, n);
  // An own chunk is the resident rows themselves.
  EXPECT_EQ(own.chunk_rows32({knn::Chunk::kOwnRows, 3000, 2000, GlobalId{3100}}), own.rows32(3000));
  EXPECT_EQ(own.query_uploads(), 0);
}

TEST(OwnRows, StreamedInSubBlocks) {
  SKIP_WITHOUT_GPU();
  const std::int64_t n = 5000, dim = 40, resident = 1000;
  const auto rows = unit_rows(n, dim, 2);
  cuda::OwnRows own({rows.data(), n, GlobalId{0}}, dim, resident, /*piece_rows=*/512, /*chunk_rows=*/1200);
  EXPECT_TRUE(own.streaming());
  EXPECT_FALSE(own.uploading());
  EXPECT_TRUE(own.is_resident(0));
  expect_rows_on_gpu(own, rows, dim, 0, resident);
  own.make_resident(4000);  // the last sub-block
  EXPECT_TRUE(own.is_resident(4000));
  expect_rows_on_gpu(own, rows, dim, 4000, resident);
  EXPECT_EQ(own.query_uploads(), 2);
  // An own chunk goes to a buffer of its own, whatever sub-block is resident.
  const float* chunk = own.chunk_rows32({knn::Chunk::kOwnRows, 2300, 1200, GlobalId{2300}});
  const auto got = download(chunk, 1200 * dim);
  EXPECT_TRUE(std::equal(got.begin(), got.end(), rows.begin() + 2300 * dim)) << "the streamed own chunk";
}

struct TileCase {
  int k = 10;
  bool bf16_scores = true;
  int select_sms = 0;
  bool own_gemm_allowed = true;
  std::int64_t query_tile = 512, database_tile = 640;
};

/// Queries: the first 1500 of 3000 rows (with exact duplicates: row i + 1000 = row i for i < 300);
/// the database: all rows, in two chunks with maxima of their own, tiles that divide nothing.
/// The lists must equal brute force's.
void expect_tiles_match_brute_force(const TileCase& c) {
  const std::int64_t n = 3000, nq = 1500, dim = 64;
  auto rows = unit_rows(n, dim, 3);
  std::copy(rows.begin(), rows.begin() + 300 * dim, rows.begin() + 1000 * dim);
  cuda::DeviceArray<float> rows32(rows.size(), "test"), norm(n, "test"), residual(n, "test");
  cuda::DeviceArray<std::uint16_t> rows16(rows.size(), "test");
  cuda::check(cudaMemcpy(rows32.data(), rows.data(), rows32.bytes(), cudaMemcpyHostToDevice), "cudaMemcpy");
  cudaDeviceProp properties{};
  cuda::check(cudaGetDeviceProperties(&properties, 0), "cudaGetDeviceProperties");
  const bool own_gemm = cuda::own_gemm_applies(c.own_gemm_allowed, properties.major == 9, c.bf16_scores, c.k, dim,
                                               c.select_sms);
  cuda::TileSearch tiles({.queries = nq,
                          .dim = dim,
                          .k = c.k,
                          .query_tile = c.query_tile,
                          .database_tile = c.database_tile,
                          .bf16_scores = c.bf16_scores,
                          .select_sms = c.select_sms,
                          .gemm_sms = c.select_sms > 0 ? properties.multiProcessorCount - c.select_sms : 0,
                          .own_gemm = own_gemm});
  cuda::convert_rows_to_bf16(rows32.data(), n, dim, rows16.data(), norm.data(), residual.data(),
                             tiles.stream().get());
  for (const auto [c0, c1] : {std::pair<std::int64_t, std::int64_t>{0, 1800}, {1800, n}}) {
    tiles.set_database_maxima(norm.data() + c0, residual.data() + c0, c1 - c0);
    tiles.new_group();
    for (std::int64_t q0 = 0; q0 < nq; q0 += c.query_tile)
      for (std::int64_t b0 = c0; b0 < c1; b0 += c.database_tile) {
        cuda::TileSearch::Tile tile;
        tile.q0 = q0;
        tile.nq = std::min(c.query_tile, nq - q0);
        tile.queries32 = rows32.data() + q0 * dim;
        tile.queries16 = rows16.data() + q0 * dim;
        tile.query_norm = norm.data() + q0;
        tile.query_residual = residual.data() + q0;
        tile.query_first = GlobalId{q0};
        tile.nb = std::min(c.database_tile, c1 - b0);
        tile.database32 = rows32.data() + b0 * dim;
        tile.database16 = rows16.data() + b0 * dim;
        tile.database_first = GlobalId{b0};
        tiles.run(tile, /*next_same_queries=*/b0 + c.database_tile < c1);
      }
  }
  const knn::KnnLists got = tiles.finish();
  knn::KnnLists want = testing::brute_force_knn(rows, n, dim, c.k);
  want.neighbors.resize(static_cast<std::size_t>(nq * c.k));
  want.similarities.resize(want.neighbors.size());
  ASSERT_EQ(got.k, c.k);
  EXPECT_EQ(got.neighbors, want.neighbors);
  std::int64_t differ = 0;
  for (std::size_t i = 0; i < want.similarities.size(); ++i)
    differ += std::memcmp(&got.similarities[i], &want.similarities[i], 4) != 0 ? 1 : 0;
  EXPECT_EQ(differ, 0) << "similarities not bit-identical";
  EXPECT_GT(tiles.rescored_pairs(), 0);
  // The own GEMM filters every tile after a query tile's first (on an H100/H200).
  EXPECT_EQ(tiles.own_gemm(), own_gemm);
  if (own_gemm) EXPECT_GT(tiles.filtered_tiles(), 0);
  else EXPECT_EQ(tiles.filtered_tiles(), 0);
}

TEST(TileSearch, OwnGemmWhereItAppliesMatchesBruteForce) {
  SKIP_WITHOUT_GPU();
  expect_tiles_match_brute_force({});
}

TEST(TileSearch, CublasBf16MatchesBruteForce) {
  SKIP_WITHOUT_GPU();
  expect_tiles_match_brute_force({.own_gemm_allowed = false});
}

TEST(TileSearch, Fp32ScoresMatchBruteForce) {
  SKIP_WITHOUT_GPU();
  expect_tiles_match_brute_force({.bf16_scores = false});
}

TEST(TileSearch, SelectionBesideTheGemmMatchesBruteForce) {
  SKIP_WITHOUT_GPU();
  expect_tiles_match_brute_force({.select_sms = 16});
}

TEST(TileSearch, LongListsMatchBruteForce) {
  SKIP_WITHOUT_GPU();
  expect_tiles_match_brute_force({.k = 100, .query_tile = 700, .database_tile = 1000});
}

}  // namespace
}  // namespace weave
