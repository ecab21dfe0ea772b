// The GPU backend of the exact ring: BF16 tensor-core score tiles (cuBLASLt), selection and
// canonical re-scoring on the GPU (select_kernels.cu), chunks passed between GPUs with NCCL.
// This header has no CUDA types, so backend.cpp can name the factory in any build.
#pragma once

#include <memory>

#include "knn/backend.hpp"

namespace weave::knn::cuda {

/// Collective: every rank takes its GPU (UserError on every rank if one has none), then NCCL is
/// set up over comm.
std::unique_ptr<SearchBackend> make_cuda_backend(const KnnConfig& config, const mpi::Comm& comm);

}  // namespace weave::knn::cuda
