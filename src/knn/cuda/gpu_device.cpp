#include "knn/cuda/gpu_device.hpp"


#include <utility>

#include <fmt/format.h>

#include "knn/cuda/cuda_check.hpp"
#include "knn/cuda/select_kernels.hpp"
#include "weave/error.hpp"

namespace weave::knn::cuda {

int visible_gpu_count() {
  int gpus = 0;
  if (cudaGetDeviceCount(&gpus) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  return gpus;
}

int ranks_on_this_node(const mpi::Comm& comm) { return comm.node_rank_and_size().second; }

int select_gpu(const mpi::Comm& comm) {
  const auto [local_rank, local_size] = comm.node_rank_and_size();
  const std::string host = mpi::Comm::processor_name();

  int gpus = 0;
  const cudaError_t status = cudaGetDeviceCount(&gpus);
  if (status != cudaSuccess || gpus == 0) {
    cudaGetLastError();
    throw UserError(fmt::format("--backend cuda: no usable CUDA GPU on host {} ({}); use --backend cpu", host,
                                status != cudaSuccess ? cudaGetErrorString(status) : "no devices"));
  }
  if (local_size > gpus)
    throw UserError(fmt::format("--backend cuda: {} ranks on host {} but {} GPU{} visible; the GPU backend needs one "
                                "GPU per rank (start at most {} ranks per node)",
                                local_size, host, gpus, gpus == 1 ? "" : "s", gpus));
  const int device = local_rank;
  check(cudaSetDevice(device), "cudaSetDevice");
  cudaDeviceProp properties{};
  check(cudaGetDeviceProperties(&properties, device), "cudaGetDeviceProperties");
  if (properties.major < 8)
    throw UserError(fmt::format("--backend cuda: GPU {} on host {} ({}, compute capability {}.{}) has no BF16 tensor "
                                "cores; compute capability 8.0 or newer is needed",
                                device, host, properties.name, properties.major, properties.minor));
  if (!kernels_available())
    throw UserError(fmt::format("--backend cuda: this build has no kernels for GPU {} on host {} ({}, compute "
                                "capability {}.{}); rebuild with -DCMAKE_CUDA_ARCHITECTURES={}{}",
                                device, host, properties.name, properties.major, properties.minor, properties.major,
                                properties.minor));
  return device;
}

}  // namespace weave::knn::cuda
