#include "knn/cuda/cuda_block_search.hpp"

#include <algorithm>
#include <limits>
#include <optional>

#include "knn/cuda/cuda_check.hpp"
#include "knn/cuda/device_array.hpp"
#include "knn/cuda/gpu_device.hpp"
#include "knn/cuda/score_gemm.hpp"
#include "knn/cuda/select_kernels.hpp"
#include "knn/cuda/stream.hpp"
#include "mpi/collective_error.hpp"

namespace weave::knn::cuda {

namespace {

/// Grows `a` to at least n elements (doubling, so a sequence of sizes allocates O(log) times).
template <typename T>
void reserve(DeviceArray<T>& a, std::size_t n, const char* what) {
  const std::size_t had = a.size();
  if (had >= n) return;
  a = DeviceArray<T>();  // free first: the old and the new need not fit together
  a = DeviceArray<T>(std::max(n, 2 * had), what);
}

/// The rows of one side, on the GPU: FP32 (for the canonical re-score), BF16 (for the GEMM), the
/// norms of the error bound, and the ids.
struct DeviceRows {
  DeviceArray<float> fp32, norm, residual;
  DeviceArray<std::uint16_t> bf16;
  DeviceArray<std::int64_t> ids;

  void upload(const RowSet& rows, std::int64_t dim, cudaStream_t stream) {
    const auto n = static_cast<std::size_t>(rows.count);
    reserve(fp32, n * dim, "block search rows (FP32)");
    reserve(bf16, n * dim, "block search rows (BF16)");
    reserve(norm, n, "block search norms");
    reserve(residual, n, "block search residuals");
    check(cudaMemcpyAsync(fp32.data(), rows.rows, n * dim * sizeof(float), cudaMemcpyHostToDevice, stream),
          "cudaMemcpyAsync(rows)");
    if (rows.ids) {
      reserve(ids, n, "block search ids");
      check(cudaMemcpyAsync(ids.data(), rows.ids, n * sizeof(std::int64_t), cudaMemcpyHostToDevice, stream),
            "cudaMemcpyAsync(ids)");
    }
    convert_rows_to_bf16(fp32.data(), rows.count, dim, bf16.data(), norm.data(), residual.data(), stream);
  }
};

class CudaBlockSearch final : public BlockSearch {
 public:
  explicit CudaBlockSearch(const mpi::Comm& comm) : device_(select_gpu(comm)) {}
  std::string name() const override { return "cuda"; }

  void search(const RowSet& queries, const RowSet& database, std::int64_t dim, int k, KnnLists& out) override {
    out.k = k;
    out.neighbors.assign(static_cast<std::size_t>(queries.count * k), -1);
    out.similarities.assign(out.neighbors.size(), std::numeric_limits<float>::quiet_NaN());
    if (queries.count == 0 || database.count == 0) return;
    if (!gemm_ || dim != dim_) {
      gemm_.emplace(dim, kDatabaseTile, ScoreGemm::Output::bf16_scores);
      dim_ = dim;
    }
    cudaStream_t s = stream_.get();
    database_.upload(database, dim, s);
    reserve(maxima_, 2, "block search maxima");
    max_norms(database_.norm.data(), database_.residual.data(), database.count, maxima_.data(), s);
    reserve(scores_, static_cast<std::size_t>(kQueryTile * kDatabaseTile), "block search score tile");
    reserve(rescored_, 1, "block search counter");
    check(cudaMemsetAsync(rescored_.data(), 0, sizeof(unsigned long long), s), "cudaMemsetAsync(counter)");

    // Queries in batches (bounded GPU memory whatever the block), tiles within a batch.
    for (std::int64_t b0 = 0; b0 < queries.count; b0 += kQueryBatch) {
      const std::int64_t nq_batch = std::min(kQueryBatch, queries.count - b0);
      const RowSet batch{queries.rows + b0 * dim, queries.ids ? queries.ids + b0 : nullptr, nq_batch};
      queries_.upload(batch, dim, s);
      const auto list_size = static_cast<std::size_t>(nq_batch * k);
      reserve(list_sims_, list_size, "block search lists");
      reserve(list_ids_, list_size, "block search lists");
      init_lists(list_sims_.data(), list_ids_.data(), list_size, s);
      for (std::int64_t q0 = 0; q0 < nq_batch; q0 += kQueryTile) {
        const std::int64_t nq = std::min(kQueryTile, nq_batch - q0);
        for (std::int64_t d0 = 0; d0 < database.count; d0 += kDatabaseTile) {
          const std::int64_t nb = std::min(kDatabaseTile, database.count - d0);
          gemm_->run(database_.bf16.data() + d0 * dim, nb, queries_.bf16.data() + q0 * dim, nq, scores_.data(), s);
          ScanTile tile;
          tile.scores = scores_.data();
          tile.bf16_scores = true;
          tile.ld = kDatabaseTile;
          tile.nq = nq;
          tile.nb = nb;
          tile.queries = queries_.fp32.data() + q0 * dim;
          tile.database = database_.fp32.data() + d0 * dim;
          tile.dim = dim;
          // Queries without ids exclude nothing: a first id no database id can equal.
          tile.query_first = std::numeric_limits<std::int64_t>::min() / 4;
          tile.query_ids = batch.ids ? queries_.ids.data() + q0 : nullptr;
          tile.database_ids = database_.ids.data() + d0;
          tile.list_sims = list_sims_.data() + q0 * k;
          tile.list_ids = list_ids_.data() + q0 * k;
          tile.k = k;
          tile.query_norm = queries_.norm.data() + q0;
          tile.query_residual = queries_.residual.data() + q0;
          tile.database_maxima = maxima_.data();
          tile.rescored = rescored_.data();
          scan_tile(tile, 0, s);
        }
      }
      finish_lists(list_sims_.data(), list_ids_.data(), list_size, s);
      check(cudaMemcpyAsync(out.neighbors.data() + b0 * k, list_ids_.data(), list_size * sizeof(std::int64_t),
                            cudaMemcpyDeviceToHost, s),
            "cudaMemcpyAsync(list ids)");
      check(cudaMemcpyAsync(out.similarities.data() + b0 * k, list_sims_.data(), list_size * sizeof(float),
                            cudaMemcpyDeviceToHost, s),
            "cudaMemcpyAsync(list similarities)");
      stream_.synchronize();  // the batch's host rows and lists are free again
    }
    unsigned long long rescored = 0;
    check(cudaMemcpy(&rescored, rescored_.data(), sizeof rescored, cudaMemcpyDeviceToHost), "cudaMemcpy(counter)");
    rescored_pairs_ += static_cast<double>(rescored);
  }

  double rescored_pairs() const override { return rescored_pairs_; }

 private:
  static constexpr std::int64_t kQueryTile = 16384;
  static constexpr std::int64_t kDatabaseTile = 4096;
  static constexpr std::int64_t kQueryBatch = 1 << 18;

  int device_;
  Stream stream_;
  std::optional<ScoreGemm> gemm_;
  std::int64_t dim_ = 0;
  DeviceRows queries_, database_;
  DeviceArray<float> maxima_;
  DeviceArray<std::uint16_t> scores_;
  DeviceArray<unsigned long long> rescored_;
  DeviceArray<float> list_sims_;
  DeviceArray<std::int64_t> list_ids_;
  double rescored_pairs_ = 0;
};

}  // namespace

std::unique_ptr<BlockSearch> make_cuda_block_search(const mpi::Comm& comm) {
  std::unique_ptr<BlockSearch> search;
  mpi::collectively(comm, [&] { search = std::make_unique<CudaBlockSearch>(comm); });
  return search;
}

}  // namespace weave::knn::cuda
