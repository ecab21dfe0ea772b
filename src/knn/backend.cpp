#include "knn/backend.hpp"

#include <fmt/format.h>

#include "knn/cpu/cpu_backend.hpp"
#include "weave/error.hpp"
#include "weave/version.hpp"

namespace weave::knn {

std::unique_ptr<SearchBackend> make_backend(const KnnConfig& config, const mpi::Comm& comm) {
  if (config.backend == "cpu") return std::make_unique<CpuBackend>(comm, config.query_tile, config.database_tile);
  if (config.backend == "cuda")
    throw UserError(kHaveCuda ? "--backend cuda: the GPU backend is not implemented yet; use --backend cpu"
                              : "--backend cuda: this build has no CUDA backend (configure with WEAVE_ENABLE_CUDA=ON)");
  throw UserError(fmt::format("--backend {}: unknown backend (cpu or cuda)", config.backend));
}

}  // namespace weave::knn
