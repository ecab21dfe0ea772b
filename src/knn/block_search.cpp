#include "knn/block_search.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "knn/cpu/row_search.hpp"
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
    own_ = rows;
    own_count_ = count;
    dim_ = dim;
    own_first_ = first.value;
    extra_ = nullptr;
    extra_ids_ = nullptr;
  }
  void hold_extra(const float* rows, const std::int64_t* ids, std::int64_t) override {
    extra_ = rows;
    extra_ids_ = ids;
  }
  void release_held() override { hold_own(nullptr, 0, 0, GlobalId(0)); }

  void search_units(std::span<const SearchUnit> units, std::int64_t dim, int k, KnnLists& out) override {
    std::int64_t queries = 0;
    for (const auto& unit : units) queries += unit.queries.count;
    TopK topk(queries, k);
    std::int64_t first = 0;
    for (const auto& unit : units) {
      const RowSet q = contiguous(unit.queries, dim, query_rows_, query_ids_);
      const RowSet d = contiguous(unit.database, dim, database_rows_, database_ids_);
      searcher_.search(q, d, dim, topk, first);
      first += unit.queries.count;
    }
    out.k = k;
    topk.finish(out.neighbors, out.similarities);
  }

  void add_fixed_point_sums(const RowSet& rows, const std::int32_t* cluster, int, std::int64_t dim,
                            std::int64_t* sums) override {
    for (std::int64_t i = 0; i < rows.count; ++i) {
      const float* row = row_of(rows, i, dim);
      std::int64_t* sum = sums + static_cast<std::int64_t>(cluster[i]) * dim;
      for (std::int64_t j = 0; j < dim; ++j) sum[j] += to_fixed_point(row[j]);
    }
  }

  double rescored_pairs() const override { return searcher_.rescored_pairs(); }

 private:
  const float* held_row(std::int64_t index) const {
    return index < own_count_ ? own_ + index * dim_ : extra_ + (index - own_count_) * dim_;
  }
  std::int64_t held_id(std::int64_t index) const {
    return index < own_count_ ? own_first_ + index : extra_ids_[index - own_count_];
  }
  const float* row_of(const RowSet& rows, std::int64_t i, std::int64_t dim) const {
    if (!rows.held()) return rows.rows + i * dim;
    return held_row(rows.picks ? rows.picks[i] : rows.first_held + i);
  }

  /// The rows of `set` as one block with ids: given rows as they are, held ones referenced (a run of
  /// own rows) or gathered into `rows` (picks), their ids into `ids`.
  RowSet contiguous(const RowSet& set, std::int64_t dim, std::vector<float>& rows, std::vector<std::int64_t>& ids) const {
    if (!set.held()) return set;
    ids.resize(static_cast<std::size_t>(set.count));
    if (!set.picks) {
      for (std::int64_t i = 0; i < set.count; ++i) ids[i] = held_id(set.first_held + i);
      if (set.first_held + set.count <= own_count_) return RowSet{own_ + set.first_held * dim, ids.data(), set.count};
    } else {
      for (std::int64_t i = 0; i < set.count; ++i) ids[i] = held_id(set.picks[i]);
    }
    rows.resize(static_cast<std::size_t>(set.count * dim));
    for (std::int64_t i = 0; i < set.count; ++i) std::copy_n(row_of(set, i, dim), dim, rows.begin() + i * dim);
    return RowSet{rows.data(), ids.data(), set.count};
  }

  RowSearcher searcher_;
  const float* own_ = nullptr;
  std::int64_t own_count_ = 0;
  std::int64_t dim_ = 0;
  std::int64_t own_first_ = 0;
  const float* extra_ = nullptr;
  const std::int64_t* extra_ids_ = nullptr;
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
