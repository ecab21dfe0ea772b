#include "knn/identical_rows.hpp"

#include <algorithm>
#include <parallel/algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <string_view>

#include "knn/topk.hpp"
#include "mpi/ask_owners.hpp"
#include "util/hash.hpp"
#include "weave/ids.hpp"

namespace weave::knn {

namespace {

/// The rows as (hash of their first bytes, row), sorted, and the longest run of equal hashes: an
/// upper bound of the largest group of identical rows, known before the groups are.
struct PrefixSorted {
  std::vector<std::pair<std::uint64_t, std::int64_t>> by_hash;
  std::int64_t longest_run = 0;
};

/// Rows from which a pass over them is shared among the OpenMP threads.
constexpr std::int64_t kParallelRows = 4096;

// Distinct rows almost always differ in their first 64 bytes: hashing only those keeps this pass
// cheap next to the search (a whole 768-d row is 3 KiB). Rows whose prefixes agree are hashed
// whole, and only rows with equal whole hashes are compared byte for byte (group_sorted_rows).
std::size_t prefix_bytes_of(std::int64_t dim) { return std::min<std::size_t>(static_cast<std::size_t>(dim) * sizeof(float), 64); }

PrefixSorted sort_by_prefix(const float* rows, std::int64_t count, std::int64_t dim) {
  const std::size_t prefix_bytes = prefix_bytes_of(dim);
  PrefixSorted sorted;
  auto& by_hash = sorted.by_hash;
  by_hash.resize(static_cast<std::size_t>(count));
  // Threads only for blocks worth them: stitching's exact levels hash a few hundred ends, and an
  // OpenMP team per call cost ms where the ranks are not bound to cores (cpu/row_search.hpp).
#pragma omp parallel for schedule(static) if (count >= kParallelRows)
  for (std::int64_t i = 0; i < count; ++i) by_hash[i] = {util::hash_bytes(rows + i * dim, prefix_bytes), i};
  __gnu_parallel::sort(by_hash.begin(), by_hash.end());  // on the OpenMP threads (libstdc++'s parallel mode)
  for (std::size_t run = 0, end = 0; run < by_hash.size(); run = end) {
    end = run + 1;
    while (end < by_hash.size() && by_hash[end].first == by_hash[run].first) ++end;
    sorted.longest_run = std::max(sorted.longest_run, static_cast<std::int64_t>(end - run));
  }
  return sorted;
}

IdenticalRows group_sorted_rows(PrefixSorted sorted, const float* rows, std::int64_t count, std::int64_t dim) {
  const std::size_t row_bytes = static_cast<std::size_t>(dim) * sizeof(float);
  auto bytes = [&](std::int64_t i) {
    return std::string_view(reinterpret_cast<const char*>(rows + i * dim), row_bytes);
  };
  const std::size_t prefix_bytes = prefix_bytes_of(dim);
  auto& by_hash = sorted.by_hash;
  auto run_end = [&](std::size_t run) {
    std::size_t end = run + 1;
    while (end < by_hash.size() && by_hash[end].first == by_hash[run].first) ++end;
    return end;
  };
  if (prefix_bytes < row_bytes)
    for (std::size_t run = 0, end = 0; run < by_hash.size(); run = end) {
      end = run_end(run);
      if (end - run == 1) continue;
      for (std::size_t x = run; x < end; ++x) by_hash[x].first = util::hash_bytes(rows + by_hash[x].second * dim, row_bytes);
      std::sort(by_hash.begin() + static_cast<std::ptrdiff_t>(run), by_hash.begin() + static_cast<std::ptrdiff_t>(end));
    }
  // group_of[i]: the first row of i's group. Within a run of equal (whole) hashes, a row joins the
  // first earlier row it equals; a hash collision between different rows just makes another group.
  std::vector<std::int64_t> group_of(static_cast<std::size_t>(count));
  for (std::size_t run = 0, end = 0; run < by_hash.size(); run = end) {
    end = run_end(run);
    for (std::size_t x = run; x < end; ++x) {
      const std::int64_t i = by_hash[x].second;
      group_of[i] = i;
      for (std::size_t y = run; y < x; ++y) {
        const std::int64_t first = by_hash[y].second;
        if (group_of[first] == first && bytes(first) == bytes(i)) {
          group_of[i] = first;
          break;
        }
      }
    }
  }
  // Counting sort of the rows by group, groups in the order of their first row.
  IdenticalRows out;
  std::vector<std::int64_t> index_of(static_cast<std::size_t>(count), -1);
  std::vector<std::int64_t> size;
  for (std::int64_t i = 0; i < count; ++i) {
    if (group_of[i] == i) {
      index_of[i] = out.groups();
      out.representative.push_back(i);
      size.push_back(0);
    }
    ++size[index_of[group_of[i]]];
  }
  out.member_begin.assign(size.size() + 1, 0);
  for (std::size_t g = 0; g < size.size(); ++g) out.member_begin[g + 1] = out.member_begin[g] + size[g];
  out.members.resize(static_cast<std::size_t>(count));
  std::vector<std::int64_t> next(out.member_begin.begin(), out.member_begin.end() - 1);
  for (std::int64_t i = 0; i < count; ++i) out.members[next[index_of[group_of[i]]]++] = i;
  return out;
}

}  // namespace

IdenticalRows group_identical_rows(const float* rows, std::int64_t count, std::int64_t dim) {
  return group_sorted_rows(sort_by_prefix(rows, count, dim), rows, count, dim);
}

bool fold_identical_rows(const mpi::Comm& comm, const DistributedRows& rows, int k, FoldedRows& folded) {
  const std::int64_t d = rows.dim;
  // A group of at most k + 1 rows costs nothing extra: each member's copies are the top of its list,
  // re-scored once as any neighbour is. Only larger groups make ties re-scored over and over. The
  // runs of equal prefix hashes bound the groups: where no run is longer than k + 1, no group is,
  // and the groups are not built (most corpora: a sort, then nothing).
  PrefixSorted sorted = sort_by_prefix(rows.own.rows, rows.own.count, d);
  if (comm.max(sorted.longest_run) <= k + 1) return false;
  folded.groups = group_sorted_rows(std::move(sorted), rows.own.rows, rows.own.count, d);
  std::int64_t largest = 0;
  for (std::int64_t g = 0; g < folded.groups.groups(); ++g) largest = std::max(largest, folded.groups.size_of(g));
  if (comm.max(largest) <= k + 1) {
    folded.groups = {};
    return false;
  }
  const auto counts = comm.allgather<std::int64_t>(folded.groups.groups());
  folded.group_offsets.assign(counts.size() + 1, 0);
  for (std::size_t r = 0; r < counts.size(); ++r) folded.group_offsets[r + 1] = folded.group_offsets[r] + counts[r];
  folded.rows.resize(static_cast<std::size_t>(folded.groups.groups() * d));
#pragma omp parallel for schedule(static) if (folded.groups.groups() >= kParallelRows)
  for (std::int64_t g = 0; g < folded.groups.groups(); ++g)
    std::copy_n(rows.row(folded.groups.representative[g]), d, folded.rows.data() + g * d);
  folded.set = DistributedRows{RowBlock{folded.rows.data(), folded.groups.groups(), GlobalId(folded.group_offsets[comm.rank()])},
                      d, folded.group_offsets.back()};
  return true;
}

namespace {

struct Candidate {
  float similarity;
  std::int64_t id;
};

}  // namespace

KnnLists unfold_lists(const mpi::Comm& comm, const DistributedRows& rows, const FoldedRows& folded,
                      const KnnLists& group_lists) {
  const int k = group_lists.k;
  const IdenticalRows& groups = folded.groups;
  const auto& offsets = folded.group_offsets;
  const std::int64_t first_group = offsets[comm.rank()];
  auto owner = [&](std::int64_t g) { return offsets_owner(offsets, g); };
  auto global_id = [&](std::int64_t row) { return rows.own.first.value + row; };

  // Round 1, an answer per list entry (no sort: entries are bucketed by owner): the listed group's
  // representative id and size. Round 2, for the groups of several members only, once each: their
  // k smallest member ids.
  const auto entries = static_cast<std::int64_t>(group_lists.neighbors.size());
  const auto id_and_size = mpi::ask_owners<std::int64_t>(
      comm, group_lists.neighbors, 2, [&](std::int64_t g) { return g < 0 ? -1 : owner(g); },
      [&](std::int64_t g, std::int64_t* out) {
        const std::int64_t local = g - first_group;
        out[0] = global_id(groups.representative[local]);
        out[1] = groups.size_of(local);
      });
  std::vector<std::int64_t> several;
  for (std::int64_t e = 0; e < entries; ++e)
    if (group_lists.neighbors[e] >= 0 && id_and_size[2 * e + 1] > 1) several.push_back(group_lists.neighbors[e]);
  std::sort(several.begin(), several.end());
  several.erase(std::unique(several.begin(), several.end()), several.end());
  const auto members_of_several = mpi::ask_owners<std::int64_t>(
      comm, several, static_cast<std::size_t>(k), owner, [&](std::int64_t g, std::int64_t* out) {
        const std::int64_t local = g - first_group;
        const std::int64_t take = std::min<std::int64_t>(k, groups.size_of(local));
        for (std::int64_t j = 0; j < k; ++j)
          out[j] = j < take ? global_id(groups.members[groups.member_begin[local] + j]) : -1;
      });

  KnnLists out;
  out.k = k;
  out.neighbors.assign(static_cast<std::size_t>(rows.own.count * k), -1);
  out.similarities.assign(out.neighbors.size(), std::numeric_limits<float>::quiet_NaN());
  const std::int64_t d = rows.dim;
  // Groups are independent (each writes its members' rows): threads where the rank has them (a GPU
  // rank's cores), one per rank on CPU runs.
#pragma omp parallel for schedule(dynamic, 256) if (groups.groups() >= 256)
  for (std::int64_t g = 0; g < groups.groups(); ++g) {
    thread_local std::vector<Candidate> candidates;
    candidates.clear();
    // The group's own members, k + 1 of them (one may be the document itself).
    const float* row = folded.rows.data() + g * d;
    const float self_similarity = canonical_similarity(row, row, d);
    for (std::int64_t j = 0; j < std::min<std::int64_t>(k + 1, groups.size_of(g)); ++j)
      candidates.push_back({self_similarity, global_id(groups.members[groups.member_begin[g] + j])});
    for (int j = 0; j < k; ++j) {
      const std::int64_t h = group_lists.neighbors[g * k + j];
      if (h < 0) break;
      const float s = group_lists.similarities[g * k + j];
      const std::int64_t e = g * k + j;
      if (id_and_size[2 * e + 1] == 1) {
        candidates.push_back({s, id_and_size[2 * e]});
        continue;
      }
      const auto y = static_cast<std::size_t>(std::lower_bound(several.begin(), several.end(), h) - several.begin());
      for (int m = 0; m < k && members_of_several[y * k + m] >= 0; ++m) candidates.push_back({s, members_of_several[y * k + m]});
    }
    const std::size_t keep = std::min<std::size_t>(candidates.size(), static_cast<std::size_t>(k) + 1);
    std::partial_sort(candidates.begin(), candidates.begin() + static_cast<std::ptrdiff_t>(keep), candidates.end(),
                      [](const Candidate& a, const Candidate& b) {
                        return a.similarity != b.similarity ? a.similarity > b.similarity : a.id < b.id;
                      });
    // Every member's list: the candidates without the member itself.
    for (std::int64_t m = groups.member_begin[g]; m < groups.member_begin[g + 1]; ++m) {
      const std::int64_t row_of_member = groups.members[m];
      const std::int64_t self = global_id(row_of_member);
      int j = 0;
      for (std::size_t c = 0; c < keep && j < k; ++c) {
        if (candidates[c].id == self) continue;
        out.neighbors[row_of_member * k + j] = candidates[c].id;
        out.similarities[row_of_member * k + j] = candidates[c].similarity;
        ++j;
      }
    }
  }
  return out;
}

}  // namespace weave::knn
