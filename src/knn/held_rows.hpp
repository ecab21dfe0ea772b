// The rows a block search holds, seen in host memory: the own rows, ids first, first + 1, ..., then
// the extra rows with their own ids, numbered [0, own_count) and [own_count, own_count + extra) —
// what RowSet::held_picks and held runs index. The CPU block search searches them where they lie;
// the GPU one keeps them here when they do not fit its memory.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "knn/block_search.hpp"

namespace weave::knn {

struct HostHeldRows {
  const float* own = nullptr;
  std::int64_t own_count = 0;
  std::int64_t own_first = 0;
  std::int64_t dim = 0;
  const float* extra = nullptr;
  const std::int64_t* extra_ids = nullptr;

  const float* row(std::int64_t x) const { return x < own_count ? own + x * dim : extra + (x - own_count) * dim; }
  std::int64_t id(std::int64_t x) const { return x < own_count ? own_first + x : extra_ids[x - own_count]; }
  /// Row i of a held row set.
  const float* row_of(const RowSet& set, std::int64_t i) const { return row(set.picks ? set.picks[i] : set.first_held + i); }

  /// The rows of `set` as one block of given rows with ids: given rows as they are, a run of own rows
  /// referenced where it lies, other held rows gathered into `rows`; the ids of held rows into `ids`.
  RowSet contiguous(const RowSet& set, std::vector<float>& rows, std::vector<std::int64_t>& ids) const {
    if (!set.held()) return set;
    ids.resize(static_cast<std::size_t>(set.count));
    for (std::int64_t i = 0; i < set.count; ++i) ids[i] = id(set.picks ? set.picks[i] : set.first_held + i);
    if (!set.picks && set.first_held + set.count <= own_count)
      return RowSet{own + set.first_held * dim, ids.data(), set.count};
    rows.resize(static_cast<std::size_t>(set.count * dim));
    for (std::int64_t i = 0; i < set.count; ++i) std::copy_n(row_of(set, i), dim, rows.begin() + i * dim);
    return RowSet{rows.data(), ids.data(), set.count};
  }
};

}  // namespace weave::knn
