#include "knn/ivf/cluster_plan.hpp"

#include <algorithm>

namespace weave::knn::ivf {

namespace {

std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }

/// Rows of piece p when `total` rows are cut into pieces of `piece` rows.
std::int64_t piece_size(std::int64_t total, std::int64_t piece, std::int64_t p) {
  return std::min(piece, total - p * piece);
}

}  // namespace

double ClusterPlan::pairs() const {
  double pairs = 0;
  for (std::size_t c = 0; c < members.size(); ++c) pairs += static_cast<double>(members[c]) * static_cast<double>(queries[c]);
  return pairs;
}

ClusterPlan plan_clusters(std::vector<std::int64_t> members, std::vector<std::int64_t> queries, int ranks,
                          std::int64_t round_rows) {
  ClusterPlan plan;
  const auto clusters = static_cast<std::int64_t>(members.size());
  const std::int64_t piece = std::max<std::int64_t>(1, round_rows / 2);
  plan.member_piece_rows.resize(clusters);
  plan.query_piece_rows.resize(clusters);
  plan.member_pieces.resize(clusters);
  plan.query_pieces.resize(clusters);
  plan.first_unit.resize(clusters);
  std::int64_t units = 0;
  for (std::int64_t c = 0; c < clusters; ++c) {
    plan.first_unit[c] = units;
    if (members[c] == 0 || queries[c] == 0) continue;
    // Equal pieces: a cluster of 1.1 pieces' rows becomes two of 0.55, not one and a sliver.
    const std::int64_t mp = ceil_div(members[c], piece), qp = ceil_div(queries[c], piece);
    plan.member_pieces[c] = static_cast<std::int32_t>(mp);
    plan.query_pieces[c] = static_cast<std::int32_t>(qp);
    plan.member_piece_rows[c] = ceil_div(members[c], mp);
    plan.query_piece_rows[c] = ceil_div(queries[c], qp);
    units += mp * qp;
  }
  plan.unit_rows.resize(units);
  std::int64_t total_rows = 0;
  for (std::int64_t c = 0; c < clusters; ++c)
    for (std::int64_t j = 0; j < plan.query_pieces[c]; ++j)
      for (std::int64_t i = 0; i < plan.member_pieces[c]; ++i) {
        const std::int64_t rows = piece_size(members[c], plan.member_piece_rows[c], i) +
                                  piece_size(queries[c], plan.query_piece_rows[c], j);
        plan.unit_rows[plan.first_unit[c] + j * plan.member_pieces[c] + i] = rows;
        total_rows += rows;
      }
  // Slots filled up to `target` rows, the last unit allowed to go past it (a unit is at most
  // round_rows, so a slot is below 2 round_rows): as many rounds as slots of 3/4 round_rows need,
  // the rows spread evenly over them, so next-fit never spills into one more round.
  const std::int64_t slots_needed = std::max<std::int64_t>(1, ceil_div(total_rows, std::max<std::int64_t>(1, round_rows * 3 / 4)));
  const std::int64_t rounds = ceil_div(slots_needed, ranks);
  const std::int64_t target = std::max<std::int64_t>(1, ceil_div(total_rows, rounds * ranks));
  plan.unit_round.resize(units);
  plan.unit_rank.resize(units);
  std::int64_t slot = 0, fill = 0;
  for (std::int64_t u = 0; u < units; ++u) {
    if (fill >= target) {
      ++slot;
      fill = 0;
    }
    plan.unit_round[u] = static_cast<std::int32_t>(slot / ranks);
    plan.unit_rank[u] = static_cast<std::int32_t>(slot % ranks);
    fill += plan.unit_rows[u];
  }
  plan.rounds = units == 0 ? 0 : static_cast<int>(slot / ranks + 1);
  plan.members = std::move(members);
  plan.queries = std::move(queries);
  return plan;
}

}  // namespace weave::knn::ivf
