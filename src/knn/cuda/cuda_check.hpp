// Every CUDA runtime, cuBLASLt and NCCL call is checked: a failure is a bug or a broken machine,
// so it throws InternalError naming the call (out-of-memory is the user's to fix: device_array.hpp).
#pragma once

#include <cublasLt.h>
#include <cuda_runtime.h>
#include <nccl.h>

namespace weave::knn::cuda {

void check(cudaError_t status, const char* call);
void check(cublasStatus_t status, const char* call);
void check(ncclResult_t status, const char* call);

/// Checks the launch of the kernel just queued (configuration errors surface here).
inline void check_launch(const char* kernel) { check(cudaGetLastError(), kernel); }

}  // namespace weave::knn::cuda
