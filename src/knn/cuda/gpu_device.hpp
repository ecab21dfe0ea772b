// One GPU per rank: ranks on a node take the GPUs in node-local rank order.
#pragma once

#include "mpi/comm.hpp"

namespace weave::knn::cuda {

/// GPUs this process can see (0 when there is no driver or device).
int visible_gpu_count();

/// Ranks of comm on this node (they share its GPUs).
int ranks_on_this_node(const mpi::Comm& comm);

/// Makes GPU (node-local rank) current and returns it. Throws UserError on this rank when the node
/// has no usable GPU, fewer GPUs than ranks, or a GPU this build has no kernels for.
int select_gpu(const mpi::Comm& comm);

}  // namespace weave::knn::cuda
