#include "knn/cuda/cuda_backend.hpp"

#include <algorithm>
#include <chrono>
#include <optional>
#include <vector>

#include <fmt/format.h>

#include "knn/cuda/cuda_check.hpp"
#include "knn/cuda/device_array.hpp"
#include "knn/cuda/gpu_device.hpp"
#include "knn/cuda/nccl_ring.hpp"
#include "knn/cuda/own_rows.hpp"
#include "knn/cuda/select_kernels.hpp"
#include "knn/cuda/stream.hpp"
#include "knn/cuda/tile_search.hpp"
#include "mpi/collective_error.hpp"
#include "weave/error.hpp"

namespace weave::knn::cuda {

namespace {

/// The ring over two parts: the own rows and their uploads (OwnRows), the lists and the tiles that
/// fill them (TileSearch). What is left here is the ring: the two chunk slots NCCL fills, the BF16
/// copy of a received chunk, which tiles run in which order, and when a shift may start.
class CudaBackend final : public SearchBackend {
 public:
  CudaBackend(const mpi::Comm& comm, const KnnConfig& config)
      : comm_(comm),
        device_(select_gpu(comm)),
        query_tile_(config.gpu_query_tile),
        database_tile_(config.gpu_database_tile),
        bf16_scores_(config.gpu_scores == GpuScores::kBf16),
        own_gemm_allowed_(config.gpu_gemm == GpuGemm::kAuto),
        resident_rows_(config.gpu_resident_rows) {
    cudaDeviceProp properties{};
    check(cudaGetDeviceProperties(&properties, device_), "cudaGetDeviceProperties");
    // gpu_select_sms > 0: the selection of tile i runs on that many SMs while the GEMM of tile
    // i + 1 uses the rest; 0: each kernel takes every SM, the two streams only fill the gaps.
    const int sms = properties.multiProcessorCount;
    select_sms_ = config.gpu_select_sms > 0 ? std::min(config.gpu_select_sms, sms - 1) : 0;
    gemm_sms_ = select_sms_ > 0 ? sms - select_sms_ : 0;
    hopper_ = properties.major == 9;
  }

  /// After every rank has its GPU: the NCCL ring (collective).
  void connect() {
    if (comm_.size() > 1) ring_.emplace(comm_);
  }

  std::string name() const override { return "cuda"; }

  /// Own rows that do not fit the GPU with everything else (or more than --gpu-resident-rows) are
  /// streamed: a sub-block of resident_rows_ queries is uploaded, searched against the chunk held,
  /// then the next one replaces it; the own rows the ring sends are uploaded chunk by chunk too.
  void begin(const RowBlock& queries, std::int64_t dim, int k, std::int64_t chunk_rows) override {
    const auto t0 = std::chrono::steady_clock::now();
    queries_ = queries;
    dim_ = dim;
    const auto d = static_cast<std::size_t>(dim);
    const auto chunk = static_cast<std::size_t>(chunk_rows);
    const bool own_gemm = own_gemm_applies(own_gemm_allowed_, hopper_, bf16_scores_, k, dim, select_sms_);
    // --gpu-database-tile 0: wide tiles for the own GEMM (fewer launches and merges: 16384 measured
    // best, 4096 and 32768 slower), cuBLASLt's best otherwise. Tiles no larger than the data: small
    // corpora do not pay for the default tile size.
    if (database_tile_ == 0) database_tile_ = own_gemm ? 16384 : 4096;
    query_tile_ = std::max<std::int64_t>(1, std::min(query_tile_, queries.count));
    database_tile_ = std::max<std::int64_t>(1, std::min(database_tile_, chunk_rows));
    choose_resident_rows(chunk_rows, k);
    if (resident_rows_ < query_tile_) query_tile_ = resident_rows_;
    const bool ring = comm_.size() > 1;
    // Allocation order: largest first, so an out-of-memory message names the buffer that matters.
    // The own rows go up piece by piece (a query tile each) while the first ring step searches.
    own_rows_.emplace(queries, dim, resident_rows_, query_tile_, chunk_rows);
    if (ring)
      for (auto& slot : slots_) slot = DeviceArray<float>(chunk * d, "a ring chunk");
    if (ring || own_rows_->streaming()) {
      chunk16_ = DeviceArray<std::uint16_t>(chunk * d, "a ring chunk (bfloat16)");
      chunk_norm_ = DeviceArray<float>(chunk, "the chunk norms");
      chunk_residual_ = DeviceArray<float>(chunk, "the chunk norms");
    }
    tiles_.emplace(TileShape{.queries = queries.count,
                             .dim = dim,
                             .k = k,
                             .query_tile = query_tile_,
                             .database_tile = database_tile_,
                             .bf16_scores = bf16_scores_,
                             .select_sms = select_sms_,
                             .gemm_sms = gemm_sms_,
                             .own_gemm = own_gemm});
    std::size_t free_bytes = 0, total_bytes = 0;
    check(cudaMemGetInfo(&free_bytes, &total_bytes), "cudaMemGetInfo");
    gpu_memory_used_ = static_cast<double>(total_bytes - free_bytes);
    gpu_memory_weave_ = static_cast<double>(own_rows_->bytes() + slots_[0].bytes() + slots_[1].bytes() +
                                            chunk16_.bytes() + tiles_->bytes());
    setup_seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }

  void start_shift(const Chunk& send, int recv_slot, std::int64_t recv_rows) override {
    WEAVE_ASSERT(ring_ && recv_slot != send.slot && !pending_shift_, "CudaBackend: bad shift");
    pending_shift_ = PendingShift{send, recv_slot, recv_rows};
    // Own rows that go up piece by piece are sent during search(), once their uploads are queued.
    if (send.slot != Chunk::kOwnRows || own_rows_->streaming()) start_pending_shift(/*wait_for_uploads=*/true);
  }

  double finish_shift() override {
    start_pending_shift(/*wait_for_uploads=*/true);
    const auto t0 = std::chrono::steady_clock::now();
    transfer_.synchronize();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }

  /// The tiles of the held chunk, in the order of tile_order(); returns when they are done.
  void search(const Chunk& held) override {
    OwnRows& own_rows = *own_rows_;
    TileSearch& tiles = *tiles_;
    const float* database32 = rows_of(held);
    const bool own = held.slot == Chunk::kOwnRows && !own_rows.streaming();
    // Own rows still going up: each group of tiles first waits for the rows it needs.
    const bool uploading = own_rows.uploading();
    if (!uploading) own_rows.make_wait(tiles.stream(), queries_.count);  // all there: no groups
    // The BF16 rows and the largest norms of the chunk's rows (for every query's slack) come first;
    // for own rows, at each group (below): while they go up, of those on the GPU (a bound for every
    // tile that uses them).
    const std::uint16_t* database16 = nullptr;
    std::int64_t maxima_rows = 0;  // the chunk's rows the maxima cover
    if (own) {
      database16 = own_rows.rows16(held.own_offset);
    } else {
      convert_rows_to_bf16(database32, held.count, dim_, chunk16_.data(), chunk_norm_.data(), chunk_residual_.data(),
                           tiles.stream().get());
      tiles.set_database_maxima(chunk_norm_.data(), chunk_residual_.data(), held.count);
      maxima_rows = held.count;
      database16 = chunk16_.data();
    }
    for (std::int64_t s0 = 0; s0 < queries_.count; s0 += resident_rows_) {
      if (!own_rows.is_resident(s0)) {
        tiles.synchronize();  // no tile still reads the sub-block being replaced
        own_rows.make_resident(s0);
      }
      const std::int64_t s1 = std::min(queries_.count, s0 + resident_rows_);
      const std::vector<TilePair> pairs = tile_order(held, s0, s1, uploading);
      for (std::size_t x = 0; x < pairs.size(); ++x) {
        const TilePair& pair = pairs[x];
        if (x == 0 || pair.rows_needed != pairs[x - 1].rows_needed) {
          // A group: rows up to rows_needed on the GPU, the maxima over the chunk's rows there.
          tiles.new_group();
          if (uploading) {
            own_rows.make_wait(tiles.stream(), pair.rows_needed);
            start_pending_shift(/*wait_for_uploads=*/false);
          }
          const std::int64_t rows =
              uploading ? std::clamp<std::int64_t>(pair.rows_needed - held.own_offset, 0, held.count) : held.count;
          if (own && rows > maxima_rows) {
            tiles.set_database_maxima(own_rows.norm(held.own_offset), own_rows.residual(held.own_offset), rows);
            maxima_rows = rows;
          }
        }
        const std::int64_t q0 = pair.q0, b0 = pair.b0;
        TileSearch::Tile tile;
        tile.q0 = q0;
        tile.nq = std::min(query_tile_, s1 - q0);
        tile.queries32 = own_rows.rows32(q0);
        tile.queries16 = own_rows.rows16(q0);
        tile.query_norm = own_rows.norm(q0);
        tile.query_residual = own_rows.residual(q0);
        tile.query_first = GlobalId{queries_.first.value + q0};
        tile.nb = std::min(database_tile_, held.count - b0);
        tile.database32 = database32 + b0 * dim_;
        tile.database16 = database16 + b0 * dim_;
        tile.database_first = GlobalId{held.first.value + b0};
        const bool next_same_queries =
            x + 1 < pairs.size() && pairs[x + 1].rows_needed == pair.rows_needed && pairs[x + 1].q0 == q0;
        tiles.run(tile, next_same_queries);
      }
    }
    start_pending_shift(/*wait_for_uploads=*/true);
    // The host waits for the GPU here anyway: the lists' host memory is made ready meanwhile.
    tiles.prepare_host_lists();
    // Returning only when done keeps the ring simple: the chunk slots are free for the next shift.
    tiles.synchronize();
  }

  KnnLists finish() override {
    KnnLists out = tiles_->finish();
    // The host rows are the caller's again: unlocked, no upload left.
    own_counters_ = own_row_counters();
    own_rows_.reset();
    return out;
  }

  double bytes_sent() const override { return bytes_sent_; }

  std::vector<std::pair<std::string, double>> counters() const override {
    std::vector<std::pair<std::string, double>> out = {
        {"gpu_memory_weave_bytes", gpu_memory_weave_},
        {"gpu_memory_used_bytes", gpu_memory_used_},
        {"rescored_pairs", tiles_ ? tiles_->rescored_pairs() : 0.0},
        {"gpu_select_sms", static_cast<double>(select_sms_)},
        {"gpu_resident_rows", static_cast<double>(resident_rows_)}};
    for (const auto& counter : own_rows_ ? own_row_counters() : own_counters_) out.push_back(counter);
    out.insert(out.end(), {{"gpu_setup_seconds", setup_seconds_},
                           {"gpu_own_gemm", tiles_ && tiles_->own_gemm() ? 1.0 : 0.0},
                           {"gpu_filtered_tiles", tiles_ ? static_cast<double>(tiles_->filtered_tiles()) : 0.0}});
    return out;
  }

 private:
  std::vector<std::pair<std::string, double>> own_row_counters() const {
    return {{"gpu_query_uploads", static_cast<double>(own_rows_->query_uploads())},
            {"gpu_upload_pieces", static_cast<double>(own_rows_->upload_pieces())},
            {"gpu_rows_pinned", own_rows_->pinned() ? 1.0 : 0.0}};
  }

  /// A tile of the held chunk: queries [q0, q0 + query_tile_), database rows [b0, b0 + database_tile_)
  /// of the chunk; it can run once own rows [0, rows_needed) are on the GPU.
  struct TilePair {
    std::int64_t rows_needed = 0;
    std::int64_t q0 = 0;
    std::int64_t b0 = 0;
  };

  /// The tiles of queries [s0, s1) against the held chunk, in groups of equal rows_needed (a group
  /// shares the database maxima; each query tile's tiles run one after another in it, so the merge
  /// of one prepares the next). Without uploads pending: one group, the query tiles in turn. While
  /// the own rows go up (`uploading`, held = own rows): the tiles that need only the first piece
  /// first, then those that need the second, ...: with equal tile sizes, group j is query tile j
  /// against database tiles 0..j and query tiles 0..j-1 against database tile j, so the GEMMs
  /// run from the first piece on and the later pieces go up while they do.
  std::vector<TilePair> tile_order(const Chunk& held, std::int64_t s0, std::int64_t s1, bool uploading) const {
    std::vector<TilePair> pairs;
    const std::int64_t piece = query_tile_;  // the uploads' piece (OwnRows)
    for (std::int64_t q0 = s0; q0 < s1; q0 += query_tile_)
      for (std::int64_t b0 = 0; b0 < held.count; b0 += database_tile_) {
        std::int64_t rows = 0;
        if (uploading) {
          const std::int64_t last = std::max(std::min(q0 + query_tile_, s1),
                                             held.own_offset + std::min(b0 + database_tile_, held.count));
          rows = std::min(queries_.count, (last + piece - 1) / piece * piece);
        }
        pairs.push_back({rows, q0, b0});
      }
    std::stable_sort(pairs.begin(), pairs.end(),
                     [](const TilePair& a, const TilePair& b) { return a.rows_needed < b.rows_needed; });
    return pairs;
  }

  /// Starts the shift of start_shift() if one is pending: at once, or (not wait_for_uploads) only if
  /// the uploads of the own rows it sends are queued already.
  void start_pending_shift(bool wait_for_uploads) {
    if (!pending_shift_) return;
    const Chunk send = pending_shift_->send;
    if (send.slot == Chunk::kOwnRows) {
      const std::int64_t end = send.own_offset + send.count;
      if (!wait_for_uploads && !own_rows_->queued_through(end)) return;
      own_rows_->make_wait(transfer_, end);
    }
    // search() returns only when its kernels are done, so the slot received into is free, and a
    // received chunk sent on is complete (received by the same stream).
    const PendingShift& shift = *pending_shift_;
    ring_->shift(rows_of(send), static_cast<std::size_t>(send.count * dim_), slots_[shift.recv_slot].data(),
                 static_cast<std::size_t>(shift.recv_rows * dim_), transfer_.get());
    bytes_sent_ += static_cast<double>(send.count * dim_) * sizeof(float);
    pending_shift_.reset();
  }

  /// The FP32 rows of a chunk on the GPU (own rows streamed: uploaded first).
  const float* rows_of(const Chunk& chunk) {
    if (chunk.slot != Chunk::kOwnRows) return slots_[chunk.slot].data();
    return own_rows_->chunk_rows32(chunk);
  }

  /// resident_rows_: --gpu-resident-rows, or all own rows if they fit next to everything else, or
  /// as many whole query tiles as do, or fewer rows than a tile (the tile shrinks to them). The
  /// estimate keeps 1 GiB for cuBLASLt, NCCL and the CUDA heap.
  void choose_resident_rows(std::int64_t chunk_rows, int k) {
    const auto n = queries_.count, d = dim_;
    if (resident_rows_ > 0) {
      resident_rows_ = std::min(resident_rows_, std::max<std::int64_t>(n, 1));
      return;
    }
    std::size_t free_bytes = 0, total_bytes = 0;
    check(cudaMemGetInfo(&free_bytes, &total_bytes), "cudaMemGetInfo");
    constexpr double kMargin = 1u << 30;
    const double chunk_bytes = static_cast<double>(chunk_rows) * d * 4;
    const double ld = static_cast<double>((database_tile_ + 7) / 8 * 8);
    const double fixed = static_cast<double>(n) * (k * 12.0 + 8) +
                         (select_sms_ > 0 ? 2.0 : 1.0) * query_tile_ * ld * (bf16_scores_ ? 2 : 4) +
                         (comm_.size() > 1 ? 2 * chunk_bytes + chunk_bytes / 2 : 0) + kMargin;
    const double row_bytes = 6.0 * d;  // FP32 + BF16
    if (fixed + row_bytes * n <= static_cast<double>(free_bytes)) {
      resident_rows_ = std::max<std::int64_t>(n, 1);
      return;
    }
    const double streamed = fixed + chunk_bytes + (comm_.size() > 1 ? 0 : chunk_bytes / 2);  // own chunk (+ BF16)
    const auto fit = static_cast<std::int64_t>((static_cast<double>(free_bytes) - streamed) / row_bytes);
    resident_rows_ = fit >= query_tile_ ? fit / query_tile_ * query_tile_ : fit;  // fewer: a smaller tile
    if (resident_rows_ < 1)
      throw UserError(fmt::format(
          "--backend cuda: out of GPU memory: {:.1f} GiB free on GPU {} leave no room for query rows besides the "
          "lists and chunks (lower --max-block-rows, --gpu-query-tile or --gpu-database-tile, or run on more GPUs)",
          static_cast<double>(free_bytes) / (1u << 30), device_));
  }

  const mpi::Comm& comm_;
  int device_;
  std::int64_t query_tile_;
  std::int64_t database_tile_;
  bool bf16_scores_;
  bool own_gemm_allowed_;  ///< --gpu-gemm auto
  bool hopper_ = false;    ///< sm_90: the own GEMM's kernels exist
  std::int64_t resident_rows_;  ///< own rows on the GPU at once (streamed when < all)
  int select_sms_ = 0;
  int gemm_sms_ = 0;
  RowBlock queries_;
  std::int64_t dim_ = 0;
  std::optional<OwnRows> own_rows_;  ///< begin() to finish()
  std::optional<TileSearch> tiles_;  ///< begin()
  Stream transfer_;                  ///< NCCL ring
  std::optional<NcclRing> ring_;
  struct PendingShift {
    Chunk send;
    int recv_slot = 0;
    std::int64_t recv_rows = 0;
  };
  std::optional<PendingShift> pending_shift_;  ///< start_shift() waiting for uploads
  DeviceArray<float> slots_[2];       ///< the ring's chunks
  DeviceArray<std::uint16_t> chunk16_;  ///< a received (or streamed own) chunk in BF16, its norms
  DeviceArray<float> chunk_norm_;
  DeviceArray<float> chunk_residual_;
  double bytes_sent_ = 0;
  double gpu_memory_used_ = 0;
  double gpu_memory_weave_ = 0;
  double setup_seconds_ = 0;  ///< begin(): allocations, the first upload, the lists
  std::vector<std::pair<std::string, double>> own_counters_;  ///< own_row_counters() at finish()
};

}  // namespace

std::unique_ptr<SearchBackend> make_cuda_backend(const KnnConfig& config, const mpi::Comm& comm) {
  std::unique_ptr<CudaBackend> backend;
  mpi::collectively(comm, [&] { backend = std::make_unique<CudaBackend>(comm, config); });
  backend->connect();
  return backend;
}

}  // namespace weave::knn::cuda
