// The k-best lists of a rank's queries on its GPU, and the tiles that fill them: per tile of queries
// x database rows a BF16 score GEMM, then the selection that re-scores canonically whatever may
// enter a list (select_kernels.cu). The GEMM is cuBLASLt's, or, where it applies, the own filtering
// GEMM (wgmma_gemm.hpp) for every tile after a query tile's first: its lists then have a k-th best,
// so only the pieces of score rows that reach each query's bar leave the GEMM, and the merge takes
// them (merge_candidates).
//
// It knows nothing of ranks, rings or where the rows come from (OwnRows, a received chunk): the
// caller hands it device rows per tile and the database maxima of the error bound.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "knn/backend.hpp"
#include "knn/cuda/device_array.hpp"
#include "knn/cuda/score_gemm.hpp"
#include "knn/cuda/select_kernels.hpp"
#include "knn/cuda/stream.hpp"
#include "knn/cuda/wgmma_gemm.hpp"

namespace weave::knn::cuda {

struct TileShape {
  std::int64_t queries = 0;  ///< the lists: one per query
  std::int64_t dim = 0;
  int k = 0;
  std::int64_t query_tile = 0;
  std::int64_t database_tile = 0;
  bool bf16_scores = true;  ///< --gpu-scores bf16 (else FP32 score tiles)
  /// > 0 (--gpu-select-sms): the selection of tile i runs on that many SMs beside the GEMM of tile
  /// i + 1 on gemm_sms, two score tiles in turn; 0: one stream, each kernel on every SM.
  int select_sms = 0;
  int gemm_sms = 0;
  bool own_gemm = false;  ///< the own filtering GEMM (own_gemm_applies)
};

/// The own GEMM applies: allowed (--gpu-gemm auto), an H100/H200, BF16 scores, k <= 32 (the
/// selection's register lists), rows of a multiple of 8 values (TMA), no selection beside.
bool own_gemm_applies(bool allowed, bool hopper, bool bf16_scores, int k, std::int64_t dim, int select_sms);

class TileSearch {
 public:
  explicit TileSearch(const TileShape& shape);

  /// The stream of the GEMMs: work queued on it before a tile (uploads, conversions, maxima) is
  /// done before the tile starts.
  const Stream& stream() const { return gemm_stream_; }

  /// Queues maxima = the largest norm and residual over rows [0, rows) of the database (the error
  /// bound of the tiles queued after it; GPU memory). Tiles queued before still see the old ones.
  void set_database_maxima(const float* norm, const float* residual, std::int64_t rows);

  /// One tile: queries [q0, q0 + nq) of the lists against nb database rows, all in GPU memory.
  struct Tile {
    std::int64_t q0 = 0;
    std::int64_t nq = 0;
    const float* queries32 = nullptr;
    const std::uint16_t* queries16 = nullptr;
    const float* query_norm = nullptr;  ///< |bf16 row|, |row - bf16 row| per query
    const float* query_residual = nullptr;
    GlobalId query_first{0};  ///< the id of query q0 (the others follow)
    std::int64_t nb = 0;
    const float* database32 = nullptr;
    const std::uint16_t* database16 = nullptr;
    GlobalId database_first{0};
  };
  /// Queues a tile (q0 a multiple of the query tile). next_same_queries: the next tile queued is of
  /// the same queries under the same maxima (the merge of a filtered tile prepares it).
  void run(const Tile& tile, bool next_same_queries);
  /// The next tile starts a new group (new maxima, or database rows of another chunk).
  void new_group() { filtered_query_tile_ = -1; }

  /// Waits for every tile queued.
  void synchronize();
  /// The host side of the lists, allocated and touched once: call while waiting for the GPU anyway.
  void prepare_host_lists();
  /// The sorted lists (KnnLists convention), after every tile.
  KnnLists finish();

  std::size_t bytes() const;
  std::int64_t filtered_tiles() const { return filtered_tiles_; }
  double rescored_pairs() const { return rescored_pairs_; }  ///< after finish()
  bool own_gemm() const { return own_gemm_.has_value(); }

 private:
  bool beside() const { return shape_.select_sms > 0; }
  ScanTile scan_tile_of(const Tile& tile, void* scores) const;
  void scan_after_gemm(const Tile& tile);
  void filter(const Tile& tile, bool first, bool next_same_queries);

  TileShape shape_;
  std::int64_t ld_ = 0;  ///< the score tiles' row stride
  Stream compute_;       ///< the selection beside the GEMMs
  Stream gemm_stream_;
  Event computed_[2];   ///< score tile b written
  Event scanned_[2];    ///< score tile b read
  Event scans_queued_;  ///< the scans queued on compute_ so far (before the maxima change)
  std::optional<ScoreGemm> gemm_;
  std::optional<WgmmaGemm> own_gemm_;
  std::int64_t tiles_run_ = 0;           ///< the score buffer in turn (beside)
  std::vector<char> primed_;             ///< per query tile: its lists have had a scanned tile
  std::int64_t filtered_query_tile_ = -1;  ///< the previous tile's q0, when it was filtered
  std::int64_t filtered_tiles_ = 0;
  DeviceArray<float> list_sims_;
  DeviceArray<std::int64_t> list_ids_;
  DeviceArray<std::byte> scores_[2];
  DeviceArray<float> maxima_;  ///< the database's largest norm and residual
  DeviceArray<unsigned long long> rescored_;
  DeviceArray<float> bars_;  ///< the own GEMM's WgmmaGemm::Filter (the pieces go to scores_[0])
  DeviceArray<unsigned> stored_;
  DeviceArray<int> marks_;
  DeviceArray<int> busy_rows_;    ///< the queries of the tile with a piece stored
  DeviceArray<int> busy_counts_;  ///< how many: one counter per tile, two in turn
  int busy_parity_ = 0;
  std::vector<std::int64_t> host_ids_;  ///< prepare_host_lists()
  std::vector<float> host_sims_;
  double rescored_pairs_ = 0;
};

}  // namespace weave::knn::cuda
