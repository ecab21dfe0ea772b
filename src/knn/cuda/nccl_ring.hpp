// The GPU ring: chunks of float rows go to the right neighbour and come from the left one with
// ncclSend/ncclRecv on a stream of their own, so they travel while the compute stream searches.
#pragma once

#include <cstdint>

#include <cuda_runtime.h>
#include <nccl.h>

#include "mpi/comm.hpp"

namespace weave::knn::cuda {

class NcclRing {
 public:
  /// Collective over comm (every rank with its GPU selected): the NCCL id travels by MPI_Bcast.
  explicit NcclRing(const mpi::Comm& comm);
  NcclRing(const NcclRing&) = delete;
  NcclRing& operator=(const NcclRing&) = delete;
  ~NcclRing();

  /// Queues on `stream`: send[0..send_floats) to the right, recv[0..recv_floats) from the left.
  void shift(const float* send, std::size_t send_floats, float* recv, std::size_t recv_floats, cudaStream_t stream);

 private:
  ncclComm_t comm_ = nullptr;
  int right_ = 0;
  int left_ = 0;
};

}  // namespace weave::knn::cuda
