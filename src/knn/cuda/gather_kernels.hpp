// Kernels that pick rows on the GPU: the held rows of a block search (the own rows, a round's
// received rows) gathered by index into the contiguous block a unit's GEMM needs, and k-means's
// fixed-point sums of rows per cluster. Rows never go back to the host for either.
#pragma once

#include <cstdint>

#include <cuda_runtime.h>

namespace weave::knn::cuda {

/// Rows on the GPU with what the tiles need of each: FP32, BF16, the norms of the error bound.
struct DeviceRowsView {
  const float* rows32 = nullptr;
  const std::uint16_t* rows16 = nullptr;
  const float* norm = nullptr;
  const float* residual = nullptr;
  const std::int64_t* ids = nullptr;  ///< per row, or null: consecutive from first
  std::int64_t first = 0;
  std::int64_t count = 0;
};

/// Where picked rows go: n rows of each array (ids always written).
struct GatherTarget {
  float* rows32 = nullptr;
  std::uint16_t* rows16 = nullptr;
  float* norm = nullptr;
  float* residual = nullptr;
  std::int64_t* ids = nullptr;
};

/// Queues out row i = held row picks[i] (GPU memory), where held rows [0, own.count) are `own` and
/// the next ones `extra`.
void gather_held_rows(const DeviceRowsView& own, const DeviceRowsView& extra, const std::int64_t* picks, std::int64_t n,
                      std::int64_t dim, const GatherTarget& out, cudaStream_t stream);

/// Queues sums[cluster[i] * dim + j] += round(2^32 rows[i * dim + j]) (half away from zero, as
/// knn::to_fixed_point) for rows [0, n): integer atomics, so the sums are exact in any order.
void add_fixed_point_sums(const float* rows, const std::int32_t* cluster, std::int64_t n, std::int64_t dim,
                          std::int64_t* sums, cudaStream_t stream);

}  // namespace weave::knn::cuda
