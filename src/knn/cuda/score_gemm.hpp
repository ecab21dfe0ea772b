// The similarity tile on tensor cores (cuBLASLt): BF16 rows, FP32 accumulation, BF16 or FP32 out.
//
// out (m x n, column-major, leading dimension ld) = a · bᵀ for a block a of m rows and a block b of
// n rows (dim BF16 values each): out[j * ld + i] = a_i · b_j. With a = database rows and b = query
// rows, each query's scores are contiguous (out[q * ld + b]), as the selection kernel reads them.
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
  enum class Output { bf16_scores, fp32_scores };

  /// ld: out's leading dimension (>= m). sm_count: the SMs the GEMM may use (0: all), leaving the
  /// others to a kernel beside it.
  ScoreGemm(std::int64_t dim, std::int64_t ld, Output output, int sm_count = 0);
  ScoreGemm(const ScoreGemm&) = delete;
  ScoreGemm& operator=(const ScoreGemm&) = delete;
  ~ScoreGemm();

  /// Queues out = a[0..m) · b[0..n)ᵀ on stream.
  void run(const std::uint16_t* a, std::int64_t m, const std::uint16_t* b, std::int64_t n, void* out,
           cudaStream_t stream);

  std::size_t workspace_bytes() const { return workspace_.bytes(); }

 private:
  struct Plan {
    cublasLtMatrixLayout_t a = nullptr, b = nullptr, d = nullptr;
    cublasLtMatmulAlgo_t algo{};
  };
  /// Layouts and the fastest of the heuristic's algorithms for one shape and pointer alignment,
  /// timed on its first tile (cached).
  const Plan& plan(const std::uint16_t* a, std::int64_t m, const std::uint16_t* b, std::int64_t n, void* out,
                   cudaStream_t stream);
  cublasLtMatmulAlgo_t fastest(const cublasLtMatmulHeuristicResult_t* candidates, int count, const Plan& p,
                               const std::uint16_t* a, const std::uint16_t* b, void* out, cudaStream_t stream);
  template <typename T>
  void set(cublasLtMatmulDescAttributes_t attribute, const T& value, const char* what);

  std::int64_t dim_;
  std::int64_t ld_;
  Output output_;
  cublasLtHandle_t handle_ = nullptr;
  cublasLtMatmulDesc_t desc_ = nullptr;
  DeviceArray<std::byte> workspace_;
  std::map<std::tuple<std::int64_t, std::int64_t, int, int, int>, Plan> plans_;
};

}  // namespace weave::knn::cuda
