// BlockSearch on this rank's GPU (the approximate search's pieces, k-means and assignment): the
// rows uploaded, BF16 score tiles by cuBLASLt, the selection kernels of the ring with ids given per
// row — the same lists as the CPU, bit for bit. No CUDA types here, so block_search.cpp can name it.
#pragma once

#include <memory>

#include "knn/block_search.hpp"

namespace weave::knn::cuda {

/// Collective (call on every rank): takes the rank's GPU (UserError on every rank if one has none).
/// resident_rows: the most own rows held on the GPU (0: as many as fit).
std::unique_ptr<BlockSearch> make_cuda_block_search(const mpi::Comm& comm, std::int64_t resident_rows);

}  // namespace weave::knn::cuda
