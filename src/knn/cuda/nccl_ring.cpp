#include "knn/cuda/nccl_ring.hpp"

#include <span>

#include "knn/cuda/cuda_check.hpp"
#include "knn/cuda/device_array.hpp"
#include "knn/cuda/stream.hpp"

namespace weave::knn::cuda {

NcclRing::NcclRing(const mpi::Comm& comm)
    : right_((comm.rank() + 1) % comm.size()), left_((comm.rank() + comm.size() - 1) % comm.size()) {
  ncclUniqueId id{};
  if (comm.rank() == 0) check(ncclGetUniqueId(&id), "ncclGetUniqueId");
  comm.bcast(std::span<char>(reinterpret_cast<char*>(&id), sizeof(id)), 0);
  check(ncclCommInitRank(&comm_, comm.size(), id, comm.rank()), "ncclCommInitRank");
  // NCCL connects peers on their first send/receive, inside that call on the host: warm the ring up
  // here, or the first shift of the search stalls every rank before it can queue any tile.
  DeviceArray<float> probe(2, "the NCCL warm-up");
  const Stream stream;
  shift(probe.data(), 1, probe.data() + 1, 1, stream.get());
  stream.synchronize();
}

NcclRing::~NcclRing() {
  if (comm_) ncclCommDestroy(comm_);
}

void NcclRing::shift(const float* send, std::size_t send_floats, float* recv, std::size_t recv_floats,
                     cudaStream_t stream) {
  check(ncclGroupStart(), "ncclGroupStart");
  check(ncclSend(send, send_floats, ncclFloat, right_, comm_, stream), "ncclSend");
  check(ncclRecv(recv, recv_floats, ncclFloat, left_, comm_, stream), "ncclRecv");
  check(ncclGroupEnd(), "ncclGroupEnd");
}

}  // namespace weave::knn::cuda
