// Recall measured, not assumed: a hash sample of the documents is searched exactly (every rank
// searches the sample against its own rows, the query's home rank merges), and the exact lists tell
// what the IVF search returns for the sample at every probe count at once: with nprobe p it finds
// exactly the exact list's documents whose nearest centroid is among the clusters the query probes.
// That curve chooses the probe count; the lists the search really returns for the sample are
// checked against the exact ones afterwards (measure()).
#pragma once

#include <cstdint>
#include <vector>

#include "knn/backend.hpp"
#include "knn/ivf/kmeans.hpp"
#include "mpi/comm.hpp"

namespace weave::knn::ivf {

class RecallSample {
 public:
  /// Collective: the `count` documents of the lowest keys of `seed`, rows copied to every rank
  /// (count x dim floats).
  RecallSample(const mpi::Comm& comm, const RowBlock& own, std::int64_t dim, std::int64_t total,
               std::int64_t count, std::uint64_t seed, int k);

  std::int64_t size() const { return static_cast<std::int64_t>(ids_.size()); }

  /// Collective: recall@k of the IVF search with each probe count in `levels` (ascending, each in
  /// [1, centroids.count]), probing more clusters where those hold fewer than k + 1 members as the
  /// search does (probes_needed); `primary` is each own row's nearest centroid, `members` the global
  /// member count of each cluster. The own rows must be held by `search` (hold_own). Keeps the exact lists.
  /// The curve stops at the first level whose recall reaches `stop_at_recall` once every level up
  /// to `needed_level` is known: `levels` is cut to the levels answered.
  std::vector<double> recall_by_probe(std::vector<int>& levels, const std::vector<std::int32_t>& primary,
                                      const std::vector<std::int64_t>& members, const Centroids& centroids,
                                      BlockSearch& search, double stop_at_recall, int needed_level);

  /// Collective: recall@k of `lists` (this rank's rows) against the exact lists of the sample.
  double measure(const KnnLists& lists) const;

 private:
  int home_of(std::int64_t s) const { return static_cast<int>(s % comm_.size()); }

  const mpi::Comm& comm_;
  const RowBlock& own_;
  std::int64_t dim_;
  int k_;
  std::vector<std::int64_t> ids_;  ///< ascending
  std::vector<float> rows_;
  /// Exact lists of the sample queries homed here (s mod P == rank), by s / P.
  std::vector<std::vector<std::int64_t>> exact_;
};

}  // namespace weave::knn::ivf
