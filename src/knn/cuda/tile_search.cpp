#include "knn/cuda/tile_search.hpp"

#include <algorithm>

#include "knn/cuda/cuda_check.hpp"

namespace weave::knn::cuda {

namespace {
std::int64_t round_up(std::int64_t x, std::int64_t multiple) { return (x + multiple - 1) / multiple * multiple; }
}  // namespace

bool own_gemm_applies(bool allowed, bool hopper, bool bf16_scores, int k, std::int64_t dim, int select_sms) {
  return allowed && hopper && bf16_scores && k <= 32 && dim % 8 == 0 && select_sms == 0;
}

TileSearch::TileSearch(const TileShape& shape) : shape_(shape), ld_(round_up(shape.database_tile, 8)) {
  const auto lists = static_cast<std::size_t>(shape.queries) * static_cast<std::size_t>(shape.k);
  list_sims_ = DeviceArray<float>(lists, "the neighbour lists");
  list_ids_ = DeviceArray<std::int64_t>(lists, "the neighbour lists");
  for (int b = 0; b < (beside() ? 2 : 1); ++b)
    scores_[b] = DeviceArray<std::byte>(static_cast<std::size_t>(shape.query_tile * ld_) * (shape.bf16_scores ? 2 : 4),
                                        "the score tiles");
  maxima_ = DeviceArray<float>(2, "the chunk norms");
  rescored_ = DeviceArray<unsigned long long>(1, "a counter");
  primed_.assign(static_cast<std::size_t>((shape.queries + shape.query_tile - 1) / shape.query_tile), 0);
  if (shape.own_gemm) {
    // Per query a bar, the bits of the pieces stored and their count; the busy rows. With the own
    // GEMM, cuBLASLt is not needed at all (its first-tile autotuning cost 0.1 s).
    own_gemm_.emplace(shape.dim, ld_);
    const auto tile = static_cast<std::size_t>(shape.query_tile);
    bars_ = DeviceArray<float>(tile, "the filter bars");
    stored_ = DeviceArray<unsigned>(tile * static_cast<std::size_t>(WgmmaGemm::stored_words(shape.database_tile)),
                                    "the filter bars");
    marks_ = DeviceArray<int>(tile, "the filter bars");
    busy_rows_ = DeviceArray<int>(tile, "the filter bars");
    busy_counts_ = DeviceArray<int>(2, "the filter bars");
  } else {
    gemm_.emplace(shape.dim, ld_, shape.bf16_scores ? ScoreGemm::Output::bf16_scores : ScoreGemm::Output::fp32_scores,
                  shape.gemm_sms);
  }
  init_lists(list_sims_.data(), list_ids_.data(), list_sims_.size(), gemm_stream_.get());
  check(cudaMemsetAsync(rescored_.data(), 0, sizeof(unsigned long long), gemm_stream_.get()), "cudaMemsetAsync");
  gemm_stream_.synchronize();
}

std::size_t TileSearch::bytes() const {
  return list_sims_.bytes() + list_ids_.bytes() + scores_[0].bytes() + scores_[1].bytes() +
         (gemm_ ? gemm_->workspace_bytes() : 0) + bars_.bytes() + stored_.bytes() + marks_.bytes() +
         busy_rows_.bytes();
}

void TileSearch::set_database_maxima(const float* norm, const float* residual, std::int64_t rows) {
  // Beside: the scans queued on compute_ read the old maxima; they come first.
  if (beside()) {
    scans_queued_.record(compute_);
    scans_queued_.make_wait(gemm_stream_);
  }
  max_norms(norm, residual, rows, maxima_.data(), gemm_stream_.get());
}

ScanTile TileSearch::scan_tile_of(const Tile& tile, void* scores) const {
  ScanTile scan;
  scan.scores = scores;
  scan.bf16_scores = shape_.bf16_scores;
  scan.ld = ld_;
  scan.nq = tile.nq;
  scan.nb = tile.nb;
  scan.queries = tile.queries32;
  scan.database = tile.database32;
  scan.dim = shape_.dim;
  scan.query_first = tile.query_first.value;
  scan.database_first = tile.database_first.value;
  scan.list_sims = list_sims_.data() + tile.q0 * shape_.k;
  scan.list_ids = list_ids_.data() + tile.q0 * shape_.k;
  scan.k = shape_.k;
  scan.query_norm = tile.query_norm;
  scan.query_residual = tile.query_residual;
  scan.database_maxima = maxima_.data();
  scan.rescored = rescored_.data();
  return scan;
}

void TileSearch::run(const Tile& tile, bool next_same_queries) {
  auto& primed = primed_[static_cast<std::size_t>(tile.q0 / shape_.query_tile)];
  if (own_gemm_ && primed) {
    filter(tile, filtered_query_tile_ != tile.q0, next_same_queries);
    filtered_query_tile_ = tile.q0;
  } else {
    // The GEMM and the scan: every tile, or with the own GEMM each query tile's first, which gives
    // its lists a k-th best, hence bars. (Scanning only the first 4096 columns of it instead
    // measured no faster end to end.)
    scan_after_gemm(tile);
    primed = 1;
    filtered_query_tile_ = -1;
  }
  ++tiles_run_;
}

/// Beside: the GEMM of tile i + 1 (gemm_stream_, the other buffer) runs while tile i is scanned
/// (compute_); events order the reuse. Otherwise one stream and one tile, scanned after it is written.
void TileSearch::scan_after_gemm(const Tile& tile) {
  const int buffer = beside() ? static_cast<int>(tiles_run_ % 2) : 0;
  Stream& scan_stream = beside() ? compute_ : gemm_stream_;
  if (beside()) scanned_[buffer].make_wait(gemm_stream_);  // the scan that last read this tile is done
  if (own_gemm_)
    own_gemm_->run(tile.queries16, tile.nq, tile.database16, tile.nb,
                   reinterpret_cast<std::uint16_t*>(scores_[buffer].data()), gemm_stream_.get());
  else
    gemm_->run(tile.database16, tile.nb, tile.queries16, tile.nq, scores_[buffer].data(), gemm_stream_.get());
  if (beside()) {
    computed_[buffer].record(gemm_stream_);
    computed_[buffer].make_wait(compute_);
  }
  scan_tile(scan_tile_of(tile, scores_[buffer].data()), shape_.select_sms, scan_stream.get());
  if (beside()) scanned_[buffer].record(compute_);
}

/// The own filtering GEMM, then merge_candidates. first: the query tile's first filtered tile in
/// this group (its bars come from the lists); next_same_queries: the merge sets up the next one.
void TileSearch::filter(const Tile& tile, bool first, bool next_same_queries) {
  FilteredTile filtered;
  filtered.scan = scan_tile_of(tile, scores_[0].data());
  filtered.bars = bars_.data();
  filtered.filter.bars = bars_.data();
  filtered.filter.pieces = reinterpret_cast<std::uint16_t*>(scores_[0].data());
  filtered.filter.stored = stored_.data();
  filtered.filter.stored_words = WgmmaGemm::stored_words(shape_.database_tile);
  filtered.filter.marks = marks_.data();
  filtered.filter.busy_rows = busy_rows_.data();
  filtered.filter.busy_count = busy_counts_.data() + busy_parity_;
  filtered.next_busy_count = busy_counts_.data() + (1 - busy_parity_);
  busy_parity_ = 1 - busy_parity_;
  if (first) prepare_filter(filtered, gemm_stream_.get());
  own_gemm_->run_filtered(tile.queries16, tile.nq, tile.database16, tile.nb, filtered.filter, gemm_stream_.get());
  merge_candidates(filtered, next_same_queries, gemm_stream_.get());
  ++filtered_tiles_;
}

void TileSearch::synchronize() {
  gemm_stream_.synchronize();
  compute_.synchronize();
}

void TileSearch::prepare_host_lists() {
  if (host_ids_.size() == list_ids_.size()) return;
  host_ids_.assign(list_ids_.size(), 0);
  host_sims_.assign(list_sims_.size(), 0.0f);
}

KnnLists TileSearch::finish() {
  synchronize();
  finish_lists(list_sims_.data(), list_ids_.data(), list_sims_.size(), compute_.get());
  prepare_host_lists();
  KnnLists out;
  out.k = shape_.k;
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
  return out;
}

}  // namespace weave::knn::cuda
