// One block of query rows against one block of database rows, each row with its own global id:
// similarity tiles by BLAS SGEMM, candidates near a query's bar re-scored canonically (knn/topk.hpp).
// The building block of the approximate search (knn/ivf/), which searches rows gathered from many
// ranks, so ids are given per row instead of as one contiguous range (the ring's CpuBackend).
#pragma once

#include <cstdint>
#include <vector>

#include "knn/block_search.hpp"
#include "knn/topk.hpp"

namespace weave::knn {

class RowSearcher {
 public:
  explicit RowSearcher(std::int64_t query_tile = 1024, std::int64_t database_tile = 4096)
      : query_tile_(query_tile), database_tile_(database_tile) {}

  /// Offers every pair that may enter query q's list to topk row (first_topk_row + q): exact, in
  /// the total order (similarity desc, id asc). A database row with the query's own id is skipped.
  void search(const RowSet& queries, const RowSet& database, std::int64_t dim, TopK& topk,
              std::int64_t first_topk_row = 0);

  double rescored_pairs() const { return rescored_pairs_; }

 private:
  std::int64_t query_tile_;
  std::int64_t database_tile_;
  std::vector<float> scores_;  ///< query_tile x database_tile, reused
  double rescored_pairs_ = 0;
};

/// Scores of a tile from which its rows are scanned on the OpenMP threads: below, a team costs more
/// than it saves, and where the ranks are not bound to cores each rank's team of one thread a core
/// waits on the others' spinning (stitching's exact levels among a few hundred ends on s100k: 32-55
/// ms instead of 1 ms on 2 ranks of 2 cores).
constexpr std::int64_t kParallelTileScores = 65536;

/// scores[q * nb + b] = <database row b, query row q> by one SGEMM (OpenBLAS).
void similarity_tile(const float* queries, int nq, const float* database, int nb, int d, float* scores);

}  // namespace weave::knn
