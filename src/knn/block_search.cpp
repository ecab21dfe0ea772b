#include "knn/block_search.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "knn/cpu/row_search.hpp"
#include "knn/held_rows.hpp"
#ifdef WEAVE_HAVE_CUDA
#include "knn/cuda/cuda_block_search.hpp"
#endif
#include "weave/error.hpp"

namespace weave::knn {

namespace {

/// The CPU searches rows in place: held rows are referenced, not copied; picked rows are gathered
/// into one contiguous block per unit (the BLAS tiles need one).
class CpuBlockSearch final : public BlockSearch {
 public:
  std::string name() const override { return "cpu"; }

  void hold_own(const float* rows, std::int64_t count, std::int64_t dim, GlobalId first) override {
    held_ = HostHeldRows{rows, count, first.value, dim, nullptr, nullptr};
  }
  void hold_extra(const float* rows, const std::int64_t* ids, std::int64_t) override {
    held_.extra = rows;
    held_.extra_ids = ids;
  }
  void release_held() override { held_ = HostHeldRows{}; }

  void search_units(std::span<const SearchUnit> units, std::int64_t dim, int k, KnnLists& out) override {
    std::int64_t queries = 0;
    for (const auto& unit : units) queries += unit.queries.count;
    TopK topk(queries, k);
    std::int64_t first = 0;
    for (const auto& unit : units) {
      const RowSet q = held_.contiguous(unit.queries, query_rows_, query_ids_);
      const RowSet d = held_.contiguous(unit.database, database_rows_, database_ids_);
      searcher_.search(q, d, dim, topk, first);
      first += unit.queries.count;
    }
    out.k = k;
    topk.finish(out.neighbors, out.similarities);
  }

  void add_fixed_point_sums(const RowSet& rows, const std::int32_t* cluster, int, std::int64_t dim,
                            std::int64_t* sums) override {
    for (std::int64_t i = 0; i < rows.count; ++i) {
      const float* row = rows.held() ? held_.row_of(rows, i) : rows.rows + i * dim;
      std::int64_t* sum = sums + static_cast<std::int64_t>(cluster[i]) * dim;
      for (std::int64_t j = 0; j < dim; ++j) sum[j] += to_fixed_point(row[j]);
    }
  }

  double rescored_pairs() const override { return searcher_.rescored_pairs(); }

 private:
  RowSearcher searcher_;
  HostHeldRows held_;
  std::vector<float> query_rows_, database_rows_;
  std::vector<std::int64_t> query_ids_, database_ids_;
};

}  // namespace

std::unique_ptr<BlockSearch> make_block_search(KnnBackend backend, const mpi::Comm& comm,
                                               std::int64_t gpu_resident_rows) {
  if (backend == KnnBackend::kCpu) return std::make_unique<CpuBlockSearch>();
  if (backend == KnnBackend::kCuda) {
#ifdef WEAVE_HAVE_CUDA
    return cuda::make_cuda_block_search(comm, gpu_resident_rows);
#else
    (void)comm;
    (void)gpu_resident_rows;
    throw UserError("--backend cuda: this build has no CUDA backend (configure with -DWEAVE_ENABLE_CUDA=ON where "
                    "nvcc and NCCL are installed)");
#endif
  }
  throw UserError(fmt::format("--backend {}: unknown backend (cpu or cuda)", to_string(backend)));
}

}  // namespace weave::knn
