#include "knn/backend.hpp"

#include <fmt/format.h>

#include "knn/cpu/cpu_backend.hpp"
#ifdef WEAVE_HAVE_CUDA
#include "knn/cuda/cuda_backend.hpp"
#endif
#include "weave/error.hpp"

namespace weave::knn {

std::unique_ptr<SearchBackend> make_backend(const KnnConfig& config, const mpi::Comm& comm) {
  if (config.backend == KnnBackend::kCpu) return std::make_unique<CpuBackend>(comm, config.query_tile, config.database_tile);
  if (config.backend == KnnBackend::kCuda) {
#ifdef WEAVE_HAVE_CUDA
    return cuda::make_cuda_backend(config, comm);
#else
    throw UserError("--backend cuda: this build has no CUDA backend (configure with -DWEAVE_ENABLE_CUDA=ON where "
                    "nvcc and NCCL are installed)");
#endif
  }
  throw UserError(fmt::format("--backend {}: unknown backend (cpu or cuda)", to_string(config.backend)));
}

}  // namespace weave::knn
