// Spherical k-means for the IVF clusters, distributed and exact: every rank assigns its part of the
// training sample (canonical similarity, ties to the lower cluster id), the per-cluster sums are kept
// in 2^-32 fixed point as int64 and summed across ranks as integers, so the centroids are the same
// bits for any number of ranks (no float reduction decides anything).
#pragma once

#include <cstdint>
#include <vector>

#include "knn/backend.hpp"
#include "knn/block_search.hpp"
#include "mpi/comm.hpp"

namespace weave::knn::ivf {

struct Centroids {
  int count = 0;
  std::int64_t dim = 0;
  std::vector<float> rows;  ///< count x dim, unit norm
  /// The ids centroids are searched under: kCentroidIdBase + c (above every document id, so a held
  /// query row never takes one for itself; ascending in c, so ties still go to the lower cluster).
  std::vector<std::int64_t> ids() const;
};

inline constexpr std::int64_t kCentroidIdBase = std::int64_t{1} << 62;

struct KmeansOptions {
  int clusters = 0;
  std::int64_t sample = 0;  ///< training rows (the lowest keys of the seed; all when >= N)
  int iterations = 10;
  std::uint64_t seed = 0;
};

struct KmeansStats {
  std::int64_t sample = 0;
  int iterations = 0;
  std::int64_t empty_clusters_split = 0;
  double mean_similarity = 0;  ///< of the sample to its centroid, last iteration (exact sum)
};

/// Collective. `own` is this rank's rows (unit norm; ids first .. first + count, ascending over ranks),
/// `total` rows in all, held by `search` (hold_own). Starts from the sample's `clusters` lowest-key rows; an empty cluster is
/// re-seeded by splitting the largest one (a deterministic perturbation of its centroid).
Centroids train_centroids(const mpi::Comm& comm, const RowBlock& own, std::int64_t dim, std::int64_t total,
                          const KmeansOptions& options, BlockSearch& search, KmeansStats& stats);

/// Each row's `probe` most similar centroids (best first, ties by cluster id), probe x rows; with
/// `similarities`, their canonical similarities too.
std::vector<std::int32_t> nearest_centroids(const RowSet& rows, const Centroids& centroids, int probe,
                                            BlockSearch& search, std::vector<float>* similarities = nullptr);

}  // namespace weave::knn::ivf
