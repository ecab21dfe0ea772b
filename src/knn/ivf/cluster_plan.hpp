// Where and when each cluster is searched. A cluster's members (the documents whose nearest centroid
// it is) and queries (the documents that probe it) are cut into pieces of at most piece_rows rows; a
// unit is one query piece against one member piece. Units are dealt to (round, rank) slots in
// cluster order so every slot holds about the same number of rows and none more than 2 round_rows: a cluster of any size never puts more than that on one rank at once (a large one
// is split over ranks and rounds). The plan is a function of the global cluster sizes and P alone,
// computed identically on every rank; the lists do not depend on it.
#pragma once

#include <cstdint>
#include <vector>

namespace weave::knn::ivf {

struct ClusterPlan {
  std::vector<std::int64_t> members, queries;          ///< per cluster
  std::vector<std::int64_t> member_piece_rows, query_piece_rows;  ///< rows per piece (the last may be short)
  std::vector<std::int32_t> member_pieces, query_pieces;          ///< pieces per cluster (0 if either side is empty)
  std::vector<std::int64_t> first_unit;                ///< per cluster
  std::vector<std::int32_t> unit_round, unit_rank;     ///< per unit
  std::vector<std::int64_t> unit_rows;                 ///< member + query rows of each unit
  int rounds = 0;

  /// Unit of query piece j and member piece i of cluster c.
  std::int64_t unit(std::int64_t c, std::int64_t j, std::int64_t i) const {
    return first_unit[c] + j * member_pieces[c] + i;
  }
  std::int64_t units() const { return static_cast<std::int64_t>(unit_round.size()); }
  /// Σ queries x members: the pairs the search scores.
  double pairs() const;
};

ClusterPlan plan_clusters(std::vector<std::int64_t> members, std::vector<std::int64_t> queries, int ranks,
                          std::int64_t round_rows);

}  // namespace weave::knn::ivf
