// Rows that are bitwise identical have the same canonical similarity to every query, and among
// equal similarities the ids decide. So the exact search (knn/exact_ring.cpp) runs over one row of
// each group of identical rows of a rank's block and expands the lists to every document afterwards.
// Without this, a tie within the error bound is re-scored canonically, and on duplicates every
// pair is such a tie: all N^2 of them when every vector is the same (97 s instead of 6 for 50,000
// x 128 on 2 CPU ranks; 220 times slower on a GPU).
#pragma once

#include <chrono>
#include <cstdint>
#include <vector>

#include "knn/backend.hpp"
#include "mpi/comm.hpp"
#include "util/report.hpp"

namespace weave::knn {

/// Groups of identical rows of one block. Representatives are the first row of each group, in
/// ascending row order; members[member_begin[g] .. member_begin[g + 1]) are group g's rows, ascending.
struct IdenticalRows {
  std::vector<std::int64_t> representative;
  std::vector<std::int64_t> member_begin;  ///< groups + 1 offsets into members
  std::vector<std::int64_t> members;
  std::int64_t groups() const { return static_cast<std::int64_t>(representative.size()); }
  std::int64_t size_of(std::int64_t g) const { return member_begin[g + 1] - member_begin[g]; }
};

/// Groups `count` rows of `dim` floats by their bits (a hash, then an exact comparison). O(count d).
IdenticalRows group_identical_rows(const float* rows, std::int64_t count, std::int64_t dim);

/// The search corpus of one row per group: this rank's representatives, numbered densely across the
/// ranks in rank order (so in the order of their global ids, which keeps the tie order).
struct FoldedRows {
  IdenticalRows groups;
  std::vector<float> rows;                   ///< the representatives' rows
  DistributedRows set;                                ///< over `rows`: total = all groups, ids = group numbers
  std::vector<std::int64_t> group_offsets;   ///< ranks + 1: rank r's groups are [off[r], off[r+1])
};

/// Collective: fills `folded` and returns true when some rank has a group of more than k + 1
/// identical rows (smaller groups cost the search nothing extra: then it runs on the block itself).
bool fold_identical_rows(const mpi::Comm& comm, const DistributedRows& rows, int k, FoldedRows& folded);

/// Collective: `search(rows)` on the rows, or on their folded groups and unfolded after (the same
/// lists, bit for bit, when the search is exact); timings and the folded count go to the report.
template <typename Search>
KnnLists search_identical_rows_once(const mpi::Comm& comm, const DistributedRows& rows, int k, util::Report& report,
                                    Search&& search);

/// Collective: every document's k-list from the lists of the groups (`group_lists`, searched
/// without the group itself): a document's candidates are the other members of its own group
/// (at the canonical similarity of the row with itself) and the members of each listed group
/// (fetched from the group's owner), ordered by (similarity desc, global id asc).
KnnLists unfold_lists(const mpi::Comm& comm, const DistributedRows& rows, const FoldedRows& folded,
                      const KnnLists& group_lists);

template <typename Search>
KnnLists search_identical_rows_once(const mpi::Comm& comm, const DistributedRows& rows, int k, util::Report& report,
                                    Search&& search) {
  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  FoldedRows folded;
  const bool fold = fold_identical_rows(comm, rows, k, folded);
  report.add_counter("fold_seconds", std::chrono::duration<double>(Clock::now() - t0).count());
  report.add_counter("identical_rows_folded", fold ? static_cast<double>(rows.own.count - folded.groups.groups()) : 0.0);
  if (!fold) return search(rows);
  const KnnLists group_lists = search(static_cast<const DistributedRows&>(folded.set));
  const auto t1 = Clock::now();
  KnnLists lists = unfold_lists(comm, rows, folded, group_lists);
  report.add_counter("unfold_seconds", std::chrono::duration<double>(Clock::now() - t1).count());
  return lists;
}

}  // namespace weave::knn
