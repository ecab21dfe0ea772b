// The similarity tile on tensor cores: scores = database_tile · query_tileᵀ from BF16 rows with
// FP32 accumulation (cuBLASLt), written as BF16 or FP32. Row-major, the tile is
// scores[q * ld + b] for query q and database row b (column-major nb x nq with leading dimension ld).
#pragma once

#include <cstdint>
#include <map>
#include <tuple>

#include <cublasLt.h>
#include <cuda_runtime.h>

#include "knn/cuda/device_array.hpp"

namespace weave::knn::cuda {

class ScoreGemm {
 public:
  /// bf16_scores: BF16 score tiles, else FP32. ld: the score tile's row stride (>= database rows).
  /// sm_count: the SMs the GEMM may use (0: all), leaving the others to a kernel beside it.
  ScoreGemm(std::int64_t dim, std::int64_t ld, bool bf16_scores, int sm_count = 0);
  ScoreGemm(const ScoreGemm&) = delete;
  ScoreGemm& operator=(const ScoreGemm&) = delete;
  ~ScoreGemm();

  /// Queues scores[0..nq)[0..nb) = database[0..nb) · queries[0..nq)ᵀ on stream (rows of dim BF16).
  void run(const std::uint16_t* database, std::int64_t nb, const std::uint16_t* queries, std::int64_t nq,
           void* scores, cudaStream_t stream);

  std::size_t workspace_bytes() const { return workspace_.bytes(); }

 private:
  struct Plan {
    cublasLtMatrixLayout_t a = nullptr, b = nullptr, d = nullptr;
    cublasLtMatmulAlgo_t algo{};
  };
  /// Layouts and the heuristic's first algorithm for one shape and pointer alignment (cached).
  const Plan& plan(std::int64_t nb, std::int64_t nq, int align_a, int align_b, int align_d);

  std::int64_t dim_;
  std::int64_t ld_;
  bool bf16_scores_;
  cublasLtHandle_t handle_ = nullptr;
  cublasLtMatmulDesc_t desc_ = nullptr;
  DeviceArray<std::byte> workspace_;
  std::map<std::tuple<std::int64_t, std::int64_t, int, int, int>, Plan> plans_;
};

}  // namespace weave::knn::cuda
