#include "knn/cuda/cuda_block_search.hpp"

#include <algorithm>
#include <cstring>
#include <limits>
#include <optional>

#include "knn/cuda/cuda_check.hpp"
#include "knn/cuda/device_array.hpp"
#include "knn/cuda/gather_kernels.hpp"
#include "knn/cuda/gpu_device.hpp"
#include "knn/cuda/pinned_host.hpp"
#include "knn/held_rows.hpp"
#include "knn/cuda/score_gemm.hpp"
#include "knn/cuda/select_kernels.hpp"
#include "knn/cuda/stream.hpp"
#include "mpi/collective_error.hpp"
#include "weave/error.hpp"

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

/// The GEMM's size for n rows: n rounded up to one of four steps per power of two (at least 256).
/// cuBLASLt plans (and ScoreGemm times) each new shape, which costs a millisecond; the IVF's units
/// all differ in size, so their GEMMs run on a few dozen shapes instead, up to 25% larger (the
/// extra rows read padding and their scores are never scanned).
std::int64_t gemm_rows(std::int64_t n) {
  std::int64_t step = 64;
  while (step * 8 < n) step *= 2;
  return std::max<std::int64_t>(256, (n + step - 1) / step * step);
}

/// Rows of padding after every block the GEMM reads (gemm_rows(n) - n < n / 4 + 256 <= this for a tile).
constexpr std::int64_t kPadRows = 4096;

/// Rows on the GPU: FP32 (for the canonical re-score), BF16 (for the GEMM), the norms of the error
/// bound, and the ids.
struct DeviceRows {
  DeviceArray<float> fp32, norm, residual;
  DeviceArray<std::uint16_t> bf16;
  DeviceArray<std::int64_t> ids;
  DeviceArray<std::int64_t> picks;  ///< the picks of a gather, uploaded

  void reserve_rows(std::int64_t n, std::int64_t dim) {
    reserve(fp32, static_cast<std::size_t>(n * dim), "block search rows (FP32)");
    reserve(bf16, static_cast<std::size_t>((n + kPadRows) * dim), "block search rows (BF16)");
    reserve(norm, static_cast<std::size_t>(n), "block search norms");
    reserve(residual, static_cast<std::size_t>(n), "block search residuals");
    reserve(ids, static_cast<std::size_t>(n), "block search ids");
  }
  DeviceRowsView view(std::int64_t count, bool with_ids, std::int64_t first) const {
    return {fp32.data(), bf16.data(), norm.data(), residual.data(), with_ids ? ids.data() : nullptr, first, count};
  }
};

/// The first id of rows without ids (queries that exclude nothing): no database id can equal it.
constexpr std::int64_t kNoSelf = std::numeric_limits<std::int64_t>::min() / 4;

/// rows [from, from + n) of a row set (a query slice).
RowSet slice(const RowSet& set, std::int64_t from, std::int64_t n, std::int64_t dim) {
  RowSet s = set;
  s.count = n;
  if (!set.held()) {
    s.rows = set.rows + from * dim;
    if (set.ids) s.ids = set.ids + from;
  } else if (set.picks) {
    s.picks = set.picks + from;
  } else {
    s.first_held = set.first_held + from;
  }
  return s;
}

class CudaBlockSearch final : public BlockSearch {
 public:
  CudaBlockSearch(const mpi::Comm& comm, std::int64_t resident_rows)
      : device_(select_gpu(comm)), resident_rows_(resident_rows) {}
  std::string name() const override { return "cuda"; }

  void hold_own(const float* rows, std::int64_t count, std::int64_t dim, GlobalId first) override {
    release_held();
    host_ = HostHeldRows{rows, count, first.value, dim, nullptr, nullptr};
    if (count == 0) return;
    // On the GPU if they fit in 60% of its free memory (the rest for the units, the lists and
    // the round's received rows), or in --gpu-resident-rows; else they stay on the host.
    std::size_t free_bytes = 0, total_bytes = 0;
    check(cudaMemGetInfo(&free_bytes, &total_bytes), "cudaMemGetInfo");
    const auto row_bytes = static_cast<double>(dim * (sizeof(float) + sizeof(std::uint16_t)) + 2 * sizeof(float));
    const auto fitting = static_cast<std::int64_t>(0.6 * static_cast<double>(free_bytes) / row_bytes) - kPadRows;
    on_gpu_ = count <= (resident_rows_ > 0 ? std::min(resident_rows_, fitting) : fitting);
    if (!on_gpu_) return;
    own_.reserve_rows(count, dim);
    upload(rows, static_cast<std::size_t>(count * dim) * sizeof(float), own_.fp32.data());
    convert_rows_to_bf16(own_.fp32.data(), count, dim, own_.bf16.data(), own_.norm.data(), own_.residual.data(),
                         stream_.get());
    stream_.synchronize();
  }

  void hold_extra(const float* rows, const std::int64_t* ids, std::int64_t count) override {
    extra_count_ = count;
    host_.extra = rows;
    host_.extra_ids = ids;
    if (count == 0 || !on_gpu_) return;
    cudaStream_t s = stream_.get();
    const std::int64_t dim = host_.dim;
    extra_.reserve_rows(count, dim);
    upload(rows, static_cast<std::size_t>(count * dim) * sizeof(float), extra_.fp32.data());
    check(cudaMemcpyAsync(extra_.ids.data(), ids, static_cast<std::size_t>(count) * sizeof(std::int64_t),
                          cudaMemcpyHostToDevice, s),
          "cudaMemcpyAsync(held ids)");
    convert_rows_to_bf16(extra_.fp32.data(), count, dim, extra_.bf16.data(), extra_.norm.data(),
                         extra_.residual.data(), s);
  }

  void release_held() override {
    stream_.synchronize();
    own_ = DeviceRows();
    extra_ = DeviceRows();
    host_ = HostHeldRows{};
    extra_count_ = 0;
  }

  void search_units(std::span<const SearchUnit> units, std::int64_t dim, int k, KnnLists& out) override {
    std::int64_t queries = 0;
    for (const auto& unit : units) queries += unit.queries.count;
    out.k = k;
    out.neighbors.assign(static_cast<std::size_t>(queries * k), -1);
    out.similarities.assign(out.neighbors.size(), std::numeric_limits<float>::quiet_NaN());
    if (queries == 0) return;
    if (!gemm_ || dim != dim_) {
      gemm_.emplace(dim, kDatabaseTile, ScoreGemm::Output::bf16_scores);
      dim_ = dim;
    }
    cudaStream_t s = stream_.get();
    reserve(maxima_, 2, "block search maxima");
    reserve(scores_, static_cast<std::size_t>(kQueryTile * kDatabaseTile), "block search score tile");
    reserve(rescored_, 1, "block search counter");
    reserve(list_sims_, static_cast<std::size_t>(kQueryBatch * k), "block search lists");
    reserve(list_ids_, static_cast<std::size_t>(kQueryBatch * k), "block search lists");
    check(cudaMemsetAsync(rescored_.data(), 0, sizeof(unsigned long long), s), "cudaMemsetAsync(counter)");

    // Units are queued one after another on one stream (no wait between them); the lists of up to
    // kQueryBatch queries stay on the GPU and go back together.
    Batch batch{&out, k};
    init_lists(list_sims_.data(), list_ids_.data(), static_cast<std::size_t>(kQueryBatch * k), s);
    for (const auto& unit : units) {
      if (unit.queries.count == 0) continue;
      DeviceRowsView database;  // a unit without database rows leaves its lists empty
      if (unit.database.count > 0) {
        database = on_gpu(unit.database, dim, database_, s);
        max_norms(database.norm, database.residual, database.count, maxima_.data(), s);
      }
      for (std::int64_t f = 0; f < unit.queries.count; f += kQueryBatch) {
        const std::int64_t n = std::min(kQueryBatch, unit.queries.count - f);
        if (batch.count + n > kQueryBatch) flush(batch);
        if (database.count > 0) {
          const DeviceRowsView query = on_gpu(slice(unit.queries, f, n, dim), dim, queries_, s);
          search_tiles(query, database, batch.count, dim, k, s);
        }
        batch.count += n;
      }
    }
    flush(batch);
    unsigned long long rescored = 0;
    check(cudaMemcpy(&rescored, rescored_.data(), sizeof rescored, cudaMemcpyDeviceToHost), "cudaMemcpy(counter)");
    rescored_pairs_ += static_cast<double>(rescored);
  }

  void add_fixed_point_sums(const RowSet& rows, const std::int32_t* cluster, int clusters, std::int64_t dim,
                            std::int64_t* sums) override {
    if (rows.count == 0) return;
    cudaStream_t s = stream_.get();
    const DeviceRowsView view = on_gpu(rows, dim, queries_, s);
    const auto n_sums = static_cast<std::size_t>(clusters) * static_cast<std::size_t>(dim);
    reserve(sums_, n_sums, "k-means sums");
    reserve(cluster_, static_cast<std::size_t>(rows.count), "k-means assignment");
    check(cudaMemcpyAsync(sums_.data(), sums, n_sums * sizeof(std::int64_t), cudaMemcpyHostToDevice, s),
          "cudaMemcpyAsync(sums)");
    check(cudaMemcpyAsync(cluster_.data(), cluster, static_cast<std::size_t>(rows.count) * sizeof(std::int32_t),
                          cudaMemcpyHostToDevice, s),
          "cudaMemcpyAsync(assignment)");
    cuda::add_fixed_point_sums(view.rows32, cluster_.data(), rows.count, dim, sums_.data(), s);
    check(cudaMemcpyAsync(sums, sums_.data(), n_sums * sizeof(std::int64_t), cudaMemcpyDeviceToHost, s),
          "cudaMemcpyAsync(sums back)");
    stream_.synchronize();
  }

  double rescored_pairs() const override { return rescored_pairs_; }

 private:
  static constexpr std::int64_t kQueryTile = 16384;
  static constexpr std::int64_t kDatabaseTile = 4096;
  static constexpr std::int64_t kQueryBatch = 1 << 18;
  static constexpr std::size_t kStagingBytes = std::size_t{64} << 20;

  /// Copies host bytes to the GPU through two page-locked staging buffers: the host threads fill
  /// one while the DMA engine empties the other. (From pageable memory the driver stages the copy
  /// through one thread: 7 GB/s measured on the H200 machine, 30 GB of rows in 4 s.)
  void upload(const void* host, std::size_t bytes, void* device) {
    if (staging_[0].data() == nullptr)
      for (auto& buffer : staging_) buffer = PinnedBuffer(kStagingBytes, "the upload of held rows");
    const auto* from = static_cast<const std::byte*>(host);
    auto* to = static_cast<std::byte*>(device);
    for (std::size_t at = 0, piece = 0; at < bytes; at += kStagingBytes, ++piece) {
      const std::size_t n = std::min(kStagingBytes, bytes - at);
      const int b = static_cast<int>(piece % 2);
      staged_[b].synchronize();  // the copy out of this buffer (queued two pieces ago) is done
      std::byte* stage = staging_[b].data();
      constexpr std::size_t kSlice = std::size_t{1} << 20;
      const auto slices = static_cast<std::int64_t>((n + kSlice - 1) / kSlice);
#pragma omp parallel for schedule(static)
      for (std::int64_t i = 0; i < slices; ++i) {
        const std::size_t o = static_cast<std::size_t>(i) * kSlice;
        std::memcpy(stage + o, from + at + o, std::min(kSlice, n - o));
      }
      check(cudaMemcpyAsync(to + at, stage, n, cudaMemcpyHostToDevice, stream_.get()), "cudaMemcpyAsync(held rows)");
      staged_[b].record(stream_);
    }
  }

  /// The lists of the queries queued since the last flush: rows [first, first + count) of `out`.
  struct Batch {
    KnnLists* out;
    int k;
    std::int64_t first = 0;
    std::int64_t count = 0;
  };

  /// The rows of `set` on the GPU: a run of held own rows in place, picked held rows gathered into
  /// `scratch`, given rows uploaded into it (and converted).
  DeviceRowsView on_gpu(const RowSet& set, std::int64_t dim, DeviceRows& scratch, cudaStream_t s) {
    if (set.held() && !on_gpu_) return upload_rows(host_.contiguous(set, host_rows_, host_ids_), dim, scratch, s);
    if (set.held()) {
      if (set.count > 0 && dim != host_.dim) throw InternalError("block search: held rows of another dimension");
      if (!set.picks) {
        if (set.first_held + set.count > host_.own_count) throw InternalError("block search: a run past the own rows");
        const std::int64_t f = set.first_held;
        return {own_.fp32.data() + f * dim, own_.bf16.data() + f * dim, own_.norm.data() + f, own_.residual.data() + f,
                nullptr, host_.own_first + f, set.count};
      }
      scratch.reserve_rows(set.count, dim);
      reserve(scratch.picks, static_cast<std::size_t>(set.count), "block search picks");
      check(cudaMemcpyAsync(scratch.picks.data(), set.picks, static_cast<std::size_t>(set.count) * sizeof(std::int64_t),
                            cudaMemcpyHostToDevice, s),
            "cudaMemcpyAsync(picks)");
      gather_held_rows(own_.view(host_.own_count, false, host_.own_first), extra_.view(extra_count_, true, 0),
                       scratch.picks.data(),
                       set.count, dim,
                       {scratch.fp32.data(), scratch.bf16.data(), scratch.norm.data(), scratch.residual.data(),
                        scratch.ids.data()},
                       s);
      return scratch.view(set.count, true, 0);
    }
    return upload_rows(set, dim, scratch, s);
  }

  /// Given rows uploaded into `scratch` and converted. (The host rows are free again when this
  /// returns: a copy from pageable memory returns once the bytes are staged.)
  DeviceRowsView upload_rows(const RowSet& set, std::int64_t dim, DeviceRows& scratch, cudaStream_t s) {
    scratch.reserve_rows(set.count, dim);
    check(cudaMemcpyAsync(scratch.fp32.data(), set.rows, static_cast<std::size_t>(set.count * dim) * sizeof(float),
                          cudaMemcpyHostToDevice, s),
          "cudaMemcpyAsync(rows)");
    if (set.ids)
      check(cudaMemcpyAsync(scratch.ids.data(), set.ids, static_cast<std::size_t>(set.count) * sizeof(std::int64_t),
                            cudaMemcpyHostToDevice, s),
            "cudaMemcpyAsync(ids)");
    convert_rows_to_bf16(scratch.fp32.data(), set.count, dim, scratch.bf16.data(), scratch.norm.data(),
                         scratch.residual.data(), s);
    return scratch.view(set.count, set.ids != nullptr, kNoSelf);
  }

  /// Queues every tile of `query` x `database` into lists [at, at + query.count) of the batch.
  void search_tiles(const DeviceRowsView& query, const DeviceRowsView& database, std::int64_t at, std::int64_t dim, int k,
                    cudaStream_t s) {
    for (std::int64_t q0 = 0; q0 < query.count; q0 += kQueryTile) {
      const std::int64_t nq = std::min(kQueryTile, query.count - q0);
      for (std::int64_t d0 = 0; d0 < database.count; d0 += kDatabaseTile) {
        const std::int64_t nb = std::min(kDatabaseTile, database.count - d0);
        gemm_->run(database.rows16 + d0 * dim, gemm_rows(nb), query.rows16 + q0 * dim, gemm_rows(nq), scores_.data(), s);
        ScanTile tile;
        tile.scores = scores_.data();
        tile.bf16_scores = true;
        tile.ld = kDatabaseTile;
        tile.nq = nq;
        tile.nb = nb;
        tile.queries = query.rows32 + q0 * dim;
        tile.database = database.rows32 + d0 * dim;
        tile.dim = dim;
        tile.query_first = query.first + q0;
        tile.query_ids = query.ids ? query.ids + q0 : nullptr;
        tile.database_first = database.first + d0;
        tile.database_ids = database.ids ? database.ids + d0 : nullptr;
        tile.list_sims = list_sims_.data() + (at + q0) * k;
        tile.list_ids = list_ids_.data() + (at + q0) * k;
        tile.k = k;
        tile.query_norm = query.norm + q0;
        tile.query_residual = query.residual + q0;
        tile.database_maxima = maxima_.data();
        tile.rescored = rescored_.data();
        scan_tile(tile, 0, s);
      }
    }
  }

  /// The batch's lists back to the host, then a new batch.
  void flush(Batch& batch) {
    cudaStream_t s = stream_.get();
    const auto size = static_cast<std::size_t>(batch.count * batch.k);
    if (size > 0) {
      finish_lists(list_sims_.data(), list_ids_.data(), size, s);
      const auto at = static_cast<std::size_t>(batch.first * batch.k);
      check(cudaMemcpyAsync(batch.out->neighbors.data() + at, list_ids_.data(), size * sizeof(std::int64_t),
                            cudaMemcpyDeviceToHost, s),
            "cudaMemcpyAsync(list ids)");
      check(cudaMemcpyAsync(batch.out->similarities.data() + at, list_sims_.data(), size * sizeof(float),
                            cudaMemcpyDeviceToHost, s),
            "cudaMemcpyAsync(list similarities)");
    }
    batch.first += batch.count;
    batch.count = 0;
    if (size > 0) init_lists(list_sims_.data(), list_ids_.data(), size, s);  // for the next batch
    stream_.synchronize();  // the lists are on the host

  }

  int device_;
  Stream stream_;
  std::optional<ScoreGemm> gemm_;
  std::int64_t dim_ = 0;
  std::int64_t resident_rows_;
  bool on_gpu_ = true;  ///< the held rows are on the GPU (else only in host memory, see hold_own)
  HostHeldRows host_;  ///< the held rows where the caller keeps them
  std::vector<float> host_rows_;  ///< held rows gathered on the host (on_gpu_ false)
  std::vector<std::int64_t> host_ids_;
  DeviceRows own_, extra_;
  std::int64_t extra_count_ = 0;
  DeviceRows queries_, database_;
  DeviceArray<float> maxima_;
  DeviceArray<std::uint16_t> scores_;
  DeviceArray<unsigned long long> rescored_;
  DeviceArray<float> list_sims_;
  DeviceArray<std::int64_t> list_ids_;
  DeviceArray<std::int64_t> sums_;
  DeviceArray<std::int32_t> cluster_;
  PinnedBuffer staging_[2];
  Event staged_[2];
  double rescored_pairs_ = 0;
};

}  // namespace

std::unique_ptr<BlockSearch> make_cuda_block_search(const mpi::Comm& comm, std::int64_t resident_rows) {
  std::unique_ptr<BlockSearch> search;
  mpi::collectively(comm, [&] { search = std::make_unique<CudaBlockSearch>(comm, resident_rows); });
  return search;
}

}  // namespace weave::knn::cuda
