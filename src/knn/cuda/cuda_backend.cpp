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
#include "knn/cuda/own_row_upload.hpp"
#include "knn/cuda/pinned_host.hpp"
#include "knn/cuda/score_gemm.hpp"
#include "knn/cuda/select_kernels.hpp"
#include "knn/cuda/stream.hpp"
#include "knn/cuda/wgmma_gemm.hpp"
#include "knn/topk.hpp"
#include "mpi/collective_error.hpp"
#include "weave/error.hpp"

namespace weave::knn::cuda {

namespace {

std::int64_t round_up(std::int64_t x, std::int64_t multiple) { return (x + multiple - 1) / multiple * multiple; }

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
    k_ = k;
    const auto n = static_cast<std::size_t>(queries.count);
    const auto d = static_cast<std::size_t>(dim);
    const auto chunk = static_cast<std::size_t>(chunk_rows);
    // --gpu-database-tile 0: wide tiles for the own GEMM (fewer launches and merges: 16384 measured
    // best, 4096 and 32768 slower), cuBLASLt's best otherwise. Tiles no larger than the data: small
    // corpora do not pay for the default tile size.
    if (database_tile_ == 0) database_tile_ = own_gemm_applies() ? 16384 : 4096;
    query_tile_ = std::max<std::int64_t>(1, std::min(query_tile_, queries.count));
    database_tile_ = std::max<std::int64_t>(1, std::min(database_tile_, chunk_rows));
    ld_ = round_up(database_tile_, 8);
    choose_resident_rows(chunk_rows);
    if (resident_rows_ < query_tile_) query_tile_ = resident_rows_;
    const auto resident = static_cast<std::size_t>(resident_rows_);
    const bool ring = comm_.size() > 1;
    // Allocation order: largest first, so an out-of-memory message names the buffer that matters.
    queries32_ = DeviceArray<float>(resident * d, "the queries (float32)");
    queries16_ = DeviceArray<std::uint16_t>(resident * d, "the queries (bfloat16)");
    if (ring)
      for (auto& slot : slots_) slot = DeviceArray<float>(chunk * d, "a ring chunk");
    if (streaming()) own_chunk_ = DeviceArray<float>(chunk * d, "a chunk of own rows (streamed)");
    if (ring || streaming()) {
      chunk16_ = DeviceArray<std::uint16_t>(chunk * d, "a ring chunk (bfloat16)");
      chunk_norm_ = DeviceArray<float>(chunk, "the chunk norms");
      chunk_residual_ = DeviceArray<float>(chunk, "the chunk norms");
    }
    query_norm_ = DeviceArray<float>(n, "the query norms");
    query_residual_ = DeviceArray<float>(n, "the query norms");
    maxima_ = DeviceArray<float>(2, "the chunk norms");
    list_sims_ = DeviceArray<float>(n * static_cast<std::size_t>(k), "the neighbour lists");
    list_ids_ = DeviceArray<std::int64_t>(n * static_cast<std::size_t>(k), "the neighbour lists");
    for (int b = 0; b < (beside() ? 2 : 1); ++b)
      scores_[b] = DeviceArray<std::byte>(static_cast<std::size_t>(query_tile_ * ld_) * (bf16_scores_ ? 2 : 4),
                                          "the score tiles");
    rescored_ = DeviceArray<unsigned long long>(1, "a counter");
    choose_own_gemm();
    // With the own GEMM, cuBLASLt is not needed at all (its first-tile autotuning cost 0.1 s).
    if (!own_gemm_)
      gemm_.emplace(dim, ld_, bf16_scores_ ? ScoreGemm::Output::bf16_scores : ScoreGemm::Output::fp32_scores,
                    gemm_sms_);

    init_lists(list_sims_.data(), list_ids_.data(), list_sims_.size(), compute_.get());
    check(cudaMemsetAsync(rescored_.data(), 0, sizeof(unsigned long long), compute_.get()), "cudaMemsetAsync");
    if (streaming()) {
      // The sub-blocks are uploaded again and again: page-locked to the end (finish()).
      pinned_rows_ = PinnedHost(queries.rows, n * d * sizeof(float));
      rows_pinned_ = pinned_rows_.pinned();
      make_resident(0);
    } else {
      // All rows stay: they go up piece by piece while the first ring step searches (search()).
      uploads_.emplace(queries.rows, queries.count, dim, query_tile_,
                       OwnRowUpload::Target{queries32_.data(), queries16_.data(), query_norm_.data(),
                                            query_residual_.data()});
      resident_first_ = 0;
    }
    compute_.synchronize();
    std::size_t free_bytes = 0, total_bytes = 0;
    check(cudaMemGetInfo(&free_bytes, &total_bytes), "cudaMemGetInfo");
    gpu_memory_used_ = static_cast<double>(total_bytes - free_bytes);
    gpu_memory_weave_ = static_cast<double>(queries32_.bytes() + queries16_.bytes() + slots_[0].bytes() +
                                            slots_[1].bytes() + own_chunk_.bytes() + chunk16_.bytes() +
                                            list_sims_.bytes() + list_ids_.bytes() + scores_[0].bytes() +
                                            scores_[1].bytes() + (gemm_ ? gemm_->workspace_bytes() : 0) +
                                            bars_.bytes() + stored_.bytes() + marks_.bytes() + busy_rows_.bytes());
    setup_seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }

  void start_shift(const Chunk& send, int recv_slot, std::int64_t recv_rows) override {
    WEAVE_ASSERT(ring_ && recv_slot != send.slot && !pending_shift_, "CudaBackend: bad shift");
    pending_shift_ = PendingShift{send, recv_slot, recv_rows};
    // Own rows still going up (uploads_) are sent once their uploads are queued, during search().
    if (send.slot != Chunk::kOwnRows || !uploads_) start_pending_shift(/*wait_for_uploads=*/true);
  }

  double finish_shift() override {
    start_pending_shift(/*wait_for_uploads=*/true);
    const auto t0 = std::chrono::steady_clock::now();
    transfer_.synchronize();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }

  /// The tiles of the held chunk: each one's GEMM, then its selection (select_kernels.cu), in the
  /// order of tile_order().
  void search(const Chunk& held) override {
    if (held.slot == Chunk::kOwnRows) upload_own_chunk(held);
    const bool own = held.slot == Chunk::kOwnRows && !streaming();
    // Own rows still going up: each group of tiles first waits for the rows it needs.
    const bool uploading = uploads_ && uploads_->queued_rows() < queries_.count;
    if (uploads_ && !uploading) uploads_->make_wait(gemm_stream_, queries_.count);  // all there: no groups
    const float* database32 = rows_of(held);
    const std::uint16_t* database16 = nullptr;
    // The BF16 rows and the largest norms of the chunk's rows (for every query's slack) come first;
    // for own rows, at each group (below): while they go up, of those on the GPU (a bound for every
    // tile that uses them).
    std::int64_t maxima_rows = 0;  // the chunk's rows the maxima cover
    if (own) {
      database16 = queries16_.data() + held.own_offset * dim_;
    } else {
      convert_rows_to_bf16(database32, held.count, dim_, chunk16_.data(), chunk_norm_.data(), chunk_residual_.data(),
                           gemm_stream_.get());
      max_norms(chunk_norm_.data(), chunk_residual_.data(), held.count, maxima_.data(), gemm_stream_.get());
      maxima_rows = held.count;
      database16 = chunk16_.data();
    }
    std::int64_t i = 0;  // tiles so far: the score buffer in turn
    for (std::int64_t s0 = 0; s0 < queries_.count; s0 += resident_rows_) {
      make_resident(s0);
      const std::int64_t s1 = std::min(queries_.count, s0 + resident_rows_);
      const std::vector<TilePair> pairs = tile_order(held, s0, s1, uploading);
      std::int64_t filtered_query_tile = -1;  // the query tile of the previous tile, if filtered
      for (std::size_t x = 0; x < pairs.size(); ++x, ++i) {
        const TilePair& pair = pairs[x];
        if (x == 0 || pair.rows_needed != pairs[x - 1].rows_needed) {
          // A group: rows up to rows_needed on the GPU, the maxima over the chunk's rows there.
          filtered_query_tile = -1;
          if (uploading) {
            uploads_->make_wait(gemm_stream_, pair.rows_needed);
            start_pending_shift(/*wait_for_uploads=*/false);
          }
          const std::int64_t rows =
              uploading ? std::clamp<std::int64_t>(pair.rows_needed - held.own_offset, 0, held.count) : held.count;
          if (own && rows > maxima_rows) {
            // Beside: the scans on compute_ that read the maxima come first.
            if (beside()) {
              scans_queued_.record(compute_);
              scans_queued_.make_wait(gemm_stream_);
            }
            max_norms(query_norm_.data() + held.own_offset, query_residual_.data() + held.own_offset, rows,
                      maxima_.data(), gemm_stream_.get());
            maxima_rows = rows;
          }
        }
        const std::int64_t q0 = pair.q0, b0 = pair.b0;
        const std::int64_t nq = std::min(query_tile_, s1 - q0);
        const std::int64_t nb = std::min(database_tile_, held.count - b0);
        const int buffer = beside() ? static_cast<int>(i % 2) : 0;
        ScanTile tile;
        tile.scores = scores_[buffer].data();
        tile.bf16_scores = bf16_scores_;
        tile.ld = ld_;
        tile.nq = nq;
        tile.nb = nb;
        tile.queries = queries32_.data() + (q0 - s0) * dim_;
        tile.database = database32 + b0 * dim_;
        tile.dim = dim_;
        tile.query_first = queries_.first.value + q0;
        tile.database_first = held.first.value + b0;
        tile.list_sims = list_sims_.data() + q0 * k_;
        tile.list_ids = list_ids_.data() + q0 * k_;
        tile.k = k_;
        tile.query_norm = query_norm_.data() + q0;
        tile.query_residual = query_residual_.data() + q0;
        tile.database_maxima = maxima_.data();
        tile.rescored = rescored_.data();
        const std::uint16_t* queries16 = queries16_.data() + (q0 - s0) * dim_;
        auto& primed = primed_[static_cast<std::size_t>(q0 / query_tile_)];
        if (own_gemm_ && primed) {
          // The lists have a k-th best: only the pieces of score rows at each query's bar leave the
          // GEMM. The merge sets up the next tile when it is of the same queries and group.
          const bool more = x + 1 < pairs.size() && pairs[x + 1].rows_needed == pair.rows_needed &&
                            pairs[x + 1].q0 == q0;
          filter_tile(tile, queries16, database16 + b0 * dim_, filtered_query_tile != q0, more);
          filtered_query_tile = q0;
        } else {
          // The GEMM and the scan: every tile, or with the own GEMM each query tile's first, which
          // gives its lists a k-th best, hence bars. (Scanning only the first 4096 columns of it
          // instead measured no faster end to end.)
          scan_tile_after_gemm(tile, queries16, database16 + b0 * dim_, buffer);
          primed = 1;
          filtered_query_tile = -1;
        }
      }
    }
    start_pending_shift(/*wait_for_uploads=*/true);
    // The host waits for the GPU here anyway: the lists' host memory is made ready meanwhile.
    prepare_host_lists();
    // Returning only when done keeps the ring simple: the chunk slots are free for the next shift.
    gemm_stream_.synchronize();
    compute_.synchronize();
  }

  KnnLists finish() override {
    finish_lists(list_sims_.data(), list_ids_.data(), list_sims_.size(), compute_.get());
    prepare_host_lists();
    KnnLists out;
    out.k = k_;
    out.neighbors = std::move(host_ids_);
    out.similarities = std::move(host_sims_);
    check(cudaMemcpyAsync(out.neighbors.data(), list_ids_.data(), list_ids_.bytes(), cudaMemcpyDeviceToHost,
                          compute_.get()),
          "cudaMemcpyAsync(neighbours)");
    check(cudaMemcpyAsync(out.similarities.data(), list_sims_.data(), list_sims_.bytes(), cudaMemcpyDeviceToHost,
                          compute_.get()),
          "cudaMemcpyAsync(similarities)");
    unsigned long long rescored = 0;
    check(cudaMemcpyAsync(&rescored, rescored_.data(), sizeof(rescored), cudaMemcpyDeviceToHost, compute_.get()),
          "cudaMemcpyAsync(counter)");
    compute_.synchronize();
    rescored_pairs_ = static_cast<double>(rescored);
    pinned_rows_ = PinnedHost();
    if (uploads_) uploads_->finish();
    return out;
  }

  double bytes_sent() const override { return bytes_sent_; }

  std::vector<std::pair<std::string, double>> counters() const override {
    return {{"gpu_memory_weave_bytes", gpu_memory_weave_},
            {"gpu_memory_used_bytes", gpu_memory_used_},
            {"rescored_pairs", rescored_pairs_},
            {"gpu_select_sms", static_cast<double>(select_sms_)},
            {"gpu_resident_rows", static_cast<double>(resident_rows_)},
            {"gpu_query_uploads", static_cast<double>(query_uploads_)},
            {"gpu_upload_pieces", uploads_ ? static_cast<double>(uploads_->pieces()) : 0.0},
            {"gpu_rows_pinned", rows_pinned_ ? 1.0 : 0.0},
            {"gpu_setup_seconds", setup_seconds_},
            {"gpu_own_gemm", own_gemm_ ? 1.0 : 0.0},
            {"gpu_filtered_tiles", static_cast<double>(filtered_tiles_)}};
  }

 private:
  /// A tile by the GEMM (cuBLASLt, or the own one where it applies) and the scan. Beside
  /// (--gpu-select-sms): the GEMM of tile i + 1 (gemm_ stream, the other buffer) runs while tile i
  /// is scanned (compute_ stream); events order the reuse. Otherwise one stream and one tile,
  /// scanned right after it is written.
  void scan_tile_after_gemm(const ScanTile& tile, const std::uint16_t* queries16, const std::uint16_t* database16,
                            int buffer) {
    Stream& scan_stream = beside() ? compute_ : gemm_stream_;
    if (beside()) scanned_[buffer].make_wait(gemm_stream_);  // the scan that last read this tile is done
    if (own_gemm_)
      own_gemm_->run(queries16, tile.nq, database16, tile.nb, reinterpret_cast<std::uint16_t*>(scores_[buffer].data()),
                     gemm_stream_.get());
    else
      gemm_->run(database16, tile.nb, queries16, tile.nq, scores_[buffer].data(), gemm_stream_.get());
    if (beside()) {
      computed_[buffer].record(gemm_stream_);
      computed_[buffer].make_wait(compute_);
    }
    scan_tile(tile, select_sms_, scan_stream.get());
    if (beside()) scanned_[buffer].record(compute_);
  }

  /// A tile by the own filtering GEMM, then merge_candidates. first: the query tile's first
  /// filtered tile in this chunk (its bars come from the lists); more: another follows in this
  /// chunk (the merge sets it up).
  void filter_tile(const ScanTile& tile, const std::uint16_t* queries16, const std::uint16_t* database16,
                      bool first, bool more) {
    FilteredTile filtered;
    filtered.scan = tile;
    filtered.bars = bars_.data();
    filtered.filter.bars = bars_.data();
    filtered.filter.pieces = reinterpret_cast<std::uint16_t*>(scores_[0].data());
    filtered.filter.stored = stored_.data();
    filtered.filter.stored_words = WgmmaGemm::stored_words(database_tile_);
    filtered.filter.marks = marks_.data();
    filtered.filter.busy_rows = busy_rows_.data();
    filtered.filter.busy_count = busy_counts_.data() + busy_parity_;
    filtered.next_busy_count = busy_counts_.data() + (1 - busy_parity_);
    busy_parity_ = 1 - busy_parity_;
    if (first) prepare_filter(filtered, gemm_stream_.get());
    own_gemm_->run_filtered(queries16, tile.nq, database16, tile.nb, filtered.filter, gemm_stream_.get());
    merge_candidates(filtered, more, gemm_stream_.get());
    ++filtered_tiles_;
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
    const std::int64_t piece = query_tile_;  // the uploads' piece (OwnRowUpload)
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
      if (uploads_) {
        const std::int64_t end = send.own_offset + send.count;
        if (!wait_for_uploads && uploads_->queued_rows() < end) return;
        uploads_->make_wait(transfer_, end);
      } else {
        upload_own_chunk(send);
      }
    }
    // search() returns only when its kernels are done, so the slot received into is free, and a
    // received chunk sent on is complete (received by the same stream).
    const PendingShift& shift = *pending_shift_;
    ring_->shift(rows_of(send), static_cast<std::size_t>(send.count * dim_), slots_[shift.recv_slot].data(),
                 static_cast<std::size_t>(shift.recv_rows * dim_), transfer_.get());
    bytes_sent_ += static_cast<double>(send.count * dim_) * sizeof(float);
    pending_shift_.reset();
  }

  /// The host vectors finish() returns, allocated and touched once (0.05 s for 1M x 10 lists): in
  /// search(), while the host waits for the GPU anyway.
  void prepare_host_lists() {
    if (host_ids_.size() == list_ids_.size()) return;
    host_ids_.assign(list_ids_.size(), 0);
    host_sims_.assign(list_sims_.size(), 0.0f);
  }

  bool streaming() const { return resident_rows_ < queries_.count; }
  /// The selection of a tile runs beside the GEMM of the next one, on SMs of its own.
  bool beside() const { return select_sms_ > 0; }

  const float* rows_of(const Chunk& chunk) const {
    if (chunk.slot != Chunk::kOwnRows) return slots_[chunk.slot].data();
    return streaming() ? own_chunk_.data() : queries32_.data() + chunk.own_offset * dim_;
  }

  /// The own filtering GEMM (wgmma_gemm.hpp) for the tiles after each query tile's first, where it
  /// applies: --gpu-gemm auto, an H100/H200, BF16 scores, k <= 32 (the selection's register lists),
  /// rows of a multiple of 8 values (TMA) and no --gpu-select-sms. Its buffers: per query a bar, the
  /// bits of the pieces stored and their count; the busy rows (the pieces go to the score tile).
  bool own_gemm_applies() const {
    return own_gemm_allowed_ && hopper_ && bf16_scores_ && k_ <= 32 && dim_ % 8 == 0 && !beside();
  }

  void choose_own_gemm() {
    own_gemm_.reset();
    primed_.assign(static_cast<std::size_t>((queries_.count + query_tile_ - 1) / query_tile_), 0);
    if (!own_gemm_applies()) return;
    own_gemm_.emplace(dim_, ld_);
    const auto tile = static_cast<std::size_t>(query_tile_);
    bars_ = DeviceArray<float>(tile, "the filter bars");
    stored_ = DeviceArray<unsigned>(tile * static_cast<std::size_t>(WgmmaGemm::stored_words(database_tile_)),
                                    "the filter bars");
    marks_ = DeviceArray<int>(tile, "the filter bars");
    busy_rows_ = DeviceArray<int>(tile, "the filter bars");
    busy_counts_ = DeviceArray<int>(2, "the filter bars");
  }

  /// resident_rows_: --gpu-resident-rows, or all own rows if they fit next to everything else, or
  /// as many whole query tiles as do, or fewer rows than a tile (the tile shrinks to them). The
  /// estimate keeps 1 GiB for cuBLASLt, NCCL and the CUDA heap.
  void choose_resident_rows(std::int64_t chunk_rows) {
    const auto n = queries_.count, d = dim_;
    if (resident_rows_ > 0) {
      resident_rows_ = std::min(resident_rows_, std::max<std::int64_t>(n, 1));
      return;
    }
    std::size_t free_bytes = 0, total_bytes = 0;
    check(cudaMemGetInfo(&free_bytes, &total_bytes), "cudaMemGetInfo");
    constexpr double kMargin = 1u << 30;
    const double chunk_bytes = static_cast<double>(chunk_rows) * d * 4;
    const double fixed = static_cast<double>(n) * (k_ * 12.0 + 8) +
                         (beside() ? 2.0 : 1.0) * query_tile_ * ld_ * (bf16_scores_ ? 2 : 4) +
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

  /// Own rows [s0, s0 + resident_rows_) become the resident queries (FP32 upload, BF16 copy, norms).
  void make_resident(std::int64_t s0) {
    if (resident_first_ == s0) return;
    gemm_stream_.synchronize();  // no tile still reads the sub-block being replaced
    compute_.synchronize();
    const std::int64_t rows = std::min(resident_rows_, queries_.count - s0);
    check(cudaMemcpyAsync(queries32_.data(), queries_.rows + s0 * dim_, static_cast<std::size_t>(rows * dim_) * 4,
                          cudaMemcpyHostToDevice, compute_.get()),
          "cudaMemcpyAsync(queries)");
    convert_rows_to_bf16(queries32_.data(), rows, dim_, queries16_.data(), query_norm_.data() + s0,
                         query_residual_.data() + s0, compute_.get());
    compute_.synchronize();
    resident_first_ = s0;
    ++query_uploads_;
  }

  /// Streaming: the own rows of `chunk` into own_chunk_ (the ring sends them from there).
  void upload_own_chunk(const Chunk& chunk) {
    if (!streaming() || own_chunk_offset_ == chunk.own_offset) return;
    // On our stream, then waited for: from pageable memory even cudaMemcpy may return before its
    // DMA lands, and the default stream does not order our non-blocking streams (this raced).
    check(cudaMemcpyAsync(own_chunk_.data(), queries_.rows + chunk.own_offset * dim_,
                          static_cast<std::size_t>(chunk.count * dim_) * 4, cudaMemcpyHostToDevice, compute_.get()),
          "cudaMemcpyAsync(own rows)");
    compute_.synchronize();
    own_chunk_offset_ = chunk.own_offset;
  }

  const mpi::Comm& comm_;
  int device_;
  std::int64_t query_tile_;
  std::int64_t database_tile_;
  bool bf16_scores_;
  bool own_gemm_allowed_;  ///< --gpu-gemm auto
  bool hopper_ = false;    ///< sm_90: the own GEMM's kernels exist
  std::int64_t resident_rows_;          ///< own rows on the GPU at once (streaming() when < all)
  std::int64_t resident_first_ = -1;    ///< the first of them
  std::int64_t own_chunk_offset_ = -1;  ///< streaming: the own rows in own_chunk_
  std::int64_t query_uploads_ = 0;
  int select_sms_ = 0;
  int gemm_sms_ = 0;
  Stream compute_;      ///< uploads, selection kernels
  Stream gemm_stream_;  ///< score tiles
  Stream transfer_;     ///< NCCL ring
  Event computed_[2];   ///< score tile b written
  Event scanned_[2];    ///< score tile b read
  Event scans_queued_;  ///< the scans queued on compute_ so far (before the maxima change)
  std::optional<NcclRing> ring_;
  std::optional<ScoreGemm> gemm_;
  std::optional<WgmmaGemm> own_gemm_;  ///< choose_own_gemm()
  std::optional<OwnRowUpload> uploads_;  ///< the own rows, unless streamed (begin())
  struct PendingShift {
    Chunk send;
    int recv_slot = 0;
    std::int64_t recv_rows = 0;
  };
  std::optional<PendingShift> pending_shift_;  ///< start_shift() waiting for uploads
  std::vector<char> primed_;           ///< per query tile: its lists have had a tile (scanned)
  std::int64_t filtered_tiles_ = 0;
  DeviceArray<float> bars_;        ///< the own GEMM's WgmmaGemm::Filter (the pieces go to scores_[0])
  DeviceArray<unsigned> stored_;
  DeviceArray<int> marks_;
  DeviceArray<int> busy_rows_;    ///< the queries of the tile with a piece stored
  DeviceArray<int> busy_counts_;  ///< how many: one counter per tile, two in turn
  int busy_parity_ = 0;
  RowBlock queries_;
  std::int64_t dim_ = 0;
  int k_ = 0;
  std::int64_t ld_ = 0;
  DeviceArray<float> queries32_;
  DeviceArray<std::uint16_t> queries16_;
  DeviceArray<float> slots_[2];
  DeviceArray<float> own_chunk_;
  DeviceArray<std::uint16_t> chunk16_;
  DeviceArray<float> query_norm_;  ///< per query: |bf16 row|, |row - bf16 row| (the slack's inputs)
  DeviceArray<float> query_residual_;
  DeviceArray<float> chunk_norm_;  ///< the same for a received chunk
  DeviceArray<float> chunk_residual_;
  DeviceArray<float> maxima_;      ///< the held chunk's largest norm and residual
  DeviceArray<float> list_sims_;
  DeviceArray<std::int64_t> list_ids_;
  DeviceArray<std::byte> scores_[2];
  DeviceArray<unsigned long long> rescored_;
  double bytes_sent_ = 0;
  double gpu_memory_used_ = 0;
  double gpu_memory_weave_ = 0;
  double rescored_pairs_ = 0;
  double setup_seconds_ = 0;  ///< begin(): allocations, the first upload, BF16 copies, lists
  PinnedHost pinned_rows_;    ///< streaming: the own rows, page-locked for the uploads (when allowed)
  std::vector<std::int64_t> host_ids_;  ///< prepare_host_lists()
  std::vector<float> host_sims_;
  bool rows_pinned_ = false;
};

}  // namespace

std::unique_ptr<SearchBackend> make_cuda_backend(const KnnConfig& config, const mpi::Comm& comm) {
  std::unique_ptr<CudaBackend> backend;
  mpi::collectively(comm, [&] { backend = std::make_unique<CudaBackend>(comm, config); });
  backend->connect();
  return backend;
}

}  // namespace weave::knn::cuda
