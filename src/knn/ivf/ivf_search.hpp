// Approximate kNN by a distributed inverted file (IVF), for 10^8 documents and more:
//  1. train   centroids by spherical k-means on a hash sample (knn/ivf/kmeans.hpp);
//  2. assign  each row to its nearest centroid (its cluster) and to the `probe` nearest (those it
//             searches); with probe chosen automatically, the recall sample decides it first
//             (knn/ivf/recall_sample.hpp);
//  3. shuffle rows to the ranks that search each cluster piece (knn/ivf/cluster_plan.hpp), in rounds;
//  4. search  each piece: its queries against its members, exactly (knn/cpu/row_search.hpp);
//  5. merge   the pieces' lists at each query's owner, (similarity desc, id asc).
// A query's list is the exact top k among the members of the clusters it probes: with one cluster,
// or probe = all clusters, it is the exact method's list, bit for bit. Nothing depends on the rank
// count (k-means sums are exact integers, the plan only moves work), so the lists do not either.
#pragma once

#include <cstdint>
#include <vector>

#include "knn/backend.hpp"
#include "knn/block_search.hpp"
#include "mpi/comm.hpp"

namespace weave::util {
class Report;
}

namespace weave::knn::ivf {

struct IvfOptions {
  int k = 10;
  int clusters = 0;            ///< > 0 (resolved by the caller)
  int probe = 0;               ///< clusters searched per row; 0: the least that reaches target_recall
  double target_recall = 0.95;
  std::int64_t train_sample = 0;  ///< > 0
  int train_iterations = 10;
  std::int64_t recall_sample = 1000;  ///< queries checked against exact search (0: none; needs probe > 0)
  std::int64_t round_rows = 0;  ///< > 0: rows (members + queries) one rank searches per round, about
  std::uint64_t seed = 0;
};

struct IvfResult {
  KnnLists lists;
  int probe = 0;
  double recall = -1;  ///< measured on the sample (-1: no sample)
  std::int64_t recall_queries = 0;
  std::vector<int> probe_levels;        ///< the recall curve: probe counts ...
  std::vector<double> recall_by_probe;  ///< ... and the recall of each
  std::vector<float> centroids;         ///< clusters x dim, unit rows (the same on every rank)
  int rounds = 0;
  std::int64_t clusters_split = 0;
  double pairs_fraction = 0;            ///< pairs scored / N^2      ///< clusters searched in more than one piece
};

/// Collective. `own`: this rank's rows (unit norm), ids [first, first + count), ascending over ranks,
/// `total` rows in all; any set of rows numbered so (a corpus, the ends of paths, ...).
/// Every block search (k-means, assignment, the units) runs on `search` (CPU or this rank's GPU).
IvfResult ivf_knn(const mpi::Comm& comm, const RowBlock& own, std::int64_t dim, std::int64_t total,
                  const IvfOptions& options, BlockSearch& search, bool quiet, util::Report& report);

/// Clusters a row probes beyond nprobe at most, while its probed clusters hold fewer than k + 1
/// members (a row in a tiny cluster would otherwise get a short list).
inline constexpr int kExtraProbes = 16;

/// How many of a row's nearest clusters (`nearest`, `width` of them, nearest first) it probes:
/// `probe`, then more while they hold fewer than k + 1 members in all, at most probe + kExtraProbes.
inline int probes_needed(const std::int32_t* nearest, int width, int probe, const std::vector<std::int64_t>& members,
                         int k) {
  const int most = std::min(width, probe + kExtraProbes);
  int count = std::min(probe, width);
  std::int64_t held = 0;
  for (int j = 0; j < count; ++j) held += members[nearest[j]];
  while (held < k + 1 && count < most) held += members[nearest[count++]];
  return count;
}

/// The probe counts the recall curve tries: 1, 2, 3, 4, 6, 8, 12, ... below `clusters`, then
/// `clusters` itself (the exact search), with `also` (if > 0) added.
std::vector<int> probe_levels(int clusters, int also);

}  // namespace weave::knn::ivf
