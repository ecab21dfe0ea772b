#include "knn/cuda/gather_kernels.hpp"

#include <algorithm>

#include "knn/cuda/cuda_check.hpp"

namespace weave::knn::cuda {

namespace {

constexpr int kThreads = 256;

/// One block per output row (grid-strided): threads copy the row's components.
__global__ void gather_held_rows_kernel(DeviceRowsView own, DeviceRowsView extra, const long long* picks, long long n,
                                        long long dim, GatherTarget out) {
  for (long long i = blockIdx.x; i < n; i += gridDim.x) {
    const long long pick = picks[i];
    const bool mine = pick < own.count;
    const DeviceRowsView& from = mine ? own : extra;
    const long long at = mine ? pick : pick - own.count;
    const float* row32 = from.rows32 + at * dim;
    const std::uint16_t* row16 = from.rows16 + at * dim;
    for (long long j = threadIdx.x; j < dim; j += blockDim.x) {
      out.rows32[i * dim + j] = row32[j];
      out.rows16[i * dim + j] = row16[j];
    }
    if (threadIdx.x == 0) {
      out.norm[i] = from.norm[at];
      out.residual[i] = from.residual[at];
      out.ids[i] = from.ids ? from.ids[at] : from.first + at;
    }
  }
}

__global__ void add_fixed_point_sums_kernel(const float* rows, const std::int32_t* cluster, long long n, long long dim,
                                            unsigned long long* sums) {
  for (long long i = blockIdx.x; i < n; i += gridDim.x) {
    unsigned long long* sum = sums + static_cast<long long>(cluster[i]) * dim;
    for (long long j = threadIdx.x; j < dim; j += blockDim.x) {
      const double v = static_cast<double>(rows[i * dim + j]) * 0x1.0p32;
      const long long fixed = static_cast<long long>(v + copysign(0.5, v));  // knn::to_fixed_point
      atomicAdd(sum + j, static_cast<unsigned long long>(fixed));  // two's complement: signed sums wrap alike
    }
  }
}

unsigned blocks_for(std::int64_t rows) { return static_cast<unsigned>(std::clamp<std::int64_t>(rows, 1, 1 << 20)); }

}  // namespace

void gather_held_rows(const DeviceRowsView& own, const DeviceRowsView& extra, const std::int64_t* picks, std::int64_t n,
                      std::int64_t dim, const GatherTarget& out, cudaStream_t stream) {
  if (n == 0) return;
  gather_held_rows_kernel<<<blocks_for(n), kThreads, 0, stream>>>(own, extra, reinterpret_cast<const long long*>(picks),
                                                                   n, dim, out);
  check_launch("gather_held_rows_kernel");
}

void add_fixed_point_sums(const float* rows, const std::int32_t* cluster, std::int64_t n, std::int64_t dim,
                          std::int64_t* sums, cudaStream_t stream) {
  if (n == 0) return;
  add_fixed_point_sums_kernel<<<blocks_for(n), kThreads, 0, stream>>>(rows, cluster, n, dim,
                                                                      reinterpret_cast<unsigned long long*>(sums));
  check_launch("add_fixed_point_sums_kernel");
}

}  // namespace weave::knn::cuda
