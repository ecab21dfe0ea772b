#include "knn/cuda/device_array.hpp"

#include <fmt/format.h>

#include "weave/error.hpp"

namespace weave::knn::cuda {

void throw_out_of_gpu_memory(std::size_t bytes, const char* what) {
  int device = -1;
  cudaGetDevice(&device);
  std::size_t free_bytes = 0, total_bytes = 0;
  cudaMemGetInfo(&free_bytes, &total_bytes);
  constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
  throw UserError(fmt::format(
      "--backend cuda: out of GPU memory on GPU {} allocating {:.2f} GiB for {} ({:.2f} of {:.2f} GiB free); lower "
      "--max-block-rows (database chunks), --gpu-resident-rows (queries kept on the GPU, 6 x dim bytes each) or "
      "--gpu-query-tile / --gpu-database-tile (score tile), or run on more GPUs",
      device, bytes / kGiB, what, free_bytes / kGiB, total_bytes / kGiB));
}

}  // namespace weave::knn::cuda
