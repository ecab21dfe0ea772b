#include "knn/block_search.hpp"

#include <fmt/format.h>

#include "knn/cpu/row_search.hpp"
#ifdef WEAVE_HAVE_CUDA
#include "knn/cuda/cuda_block_search.hpp"
#endif
#include "weave/error.hpp"

namespace weave::knn {

namespace {

class CpuBlockSearch final : public BlockSearch {
 public:
  std::string name() const override { return "cpu"; }
  void search(const RowSet& queries, const RowSet& database, std::int64_t dim, int k, KnnLists& out) override {
    TopK topk(queries.count, k);
    searcher_.search(queries, database, dim, topk);
    out.k = k;
    topk.finish(out.neighbors, out.similarities);
  }
  double rescored_pairs() const override { return searcher_.rescored_pairs(); }

 private:
  RowSearcher searcher_;
};

}  // namespace

std::unique_ptr<BlockSearch> make_block_search(KnnBackend backend, const mpi::Comm& comm) {
  if (backend == KnnBackend::kCpu) return std::make_unique<CpuBlockSearch>();
  if (backend == KnnBackend::kCuda) {
#ifdef WEAVE_HAVE_CUDA
    return cuda::make_cuda_block_search(comm);
#else
    (void)comm;
    throw UserError("--backend cuda: this build has no CUDA backend (configure with -DWEAVE_ENABLE_CUDA=ON where "
                    "nvcc and NCCL are installed)");
#endif
  }
  throw UserError(fmt::format("--backend {}: unknown backend (cpu or cuda)", to_string(backend)));
}

}  // namespace weave::knn
