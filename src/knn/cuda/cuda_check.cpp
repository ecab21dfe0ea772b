#include "knn/cuda/cuda_check.hpp"

#include <fmt/format.h>

#include "knn/cuda/cublaslt_library.hpp"
#include "weave/error.hpp"

namespace weave::knn::cuda {

void check(cudaError_t status, const char* call) {
  if (status == cudaSuccess) return;
  int device = -1;
  cudaGetDevice(&device);
  throw InternalError(fmt::format("{} failed on GPU {}: {} ({})", call, device, cudaGetErrorString(status),
                                  cudaGetErrorName(status)));
}

void check(cublasStatus_t status, const char* call) {
  if (status == CUBLAS_STATUS_SUCCESS) return;
  if (status == CUBLAS_STATUS_ALLOC_FAILED)
    throw UserError(fmt::format("{}: out of GPU memory; lower --gpu-query-tile / --gpu-database-tile", call));
  throw InternalError(fmt::format("{} failed: {} ({})", call, cublaslt().status_string(status),
                                  cublaslt().status_name(status)));
}

void check(ncclResult_t status, const char* call) {
  if (status == ncclSuccess) return;
  throw InternalError(fmt::format("{} failed: {} ({})", call, ncclGetErrorString(status), ncclGetLastError(nullptr)));
}

}  // namespace weave::knn::cuda
