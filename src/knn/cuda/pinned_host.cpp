#include "knn/cuda/pinned_host.hpp"

#include <fmt/format.h>

#include "weave/error.hpp"

namespace weave::knn::cuda {

PinnedBuffer::PinnedBuffer(std::size_t bytes, const char* what) {
  if (bytes == 0) return;
  if (cudaHostAlloc(&data_, bytes, cudaHostAllocDefault) != cudaSuccess) {
    cudaGetLastError();
    data_ = nullptr;
    throw UserError(fmt::format("--backend cuda: could not page-lock {} MiB of host memory for {}", bytes >> 20, what));
  }
}

}  // namespace weave::knn::cuda
