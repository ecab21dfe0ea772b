// Rows that are bitwise identical have the same canonical similarity to every query, so a search
// scores one row of each group and offers its members in id order. Without this, a corpus of
// duplicates re-scores every tied pair canonically: all N^2 of them when every vector is the same.
#pragma once

#include <cstdint>
#include <vector>

namespace weave::knn {

/// Groups of identical rows of one chunk. Representatives are the first row of each group, in
/// ascending row order; members[member_begin[g] .. member_begin[g + 1]) are group g's rows, ascending.
struct IdenticalRows {
  std::vector<std::int64_t> representative;
  std::vector<std::int64_t> member_begin;  ///< groups + 1 offsets into members
  std::vector<std::int64_t> members;
  std::int64_t groups() const { return static_cast<std::int64_t>(representative.size()); }
};

/// Groups `count` rows of `dim` floats by their bits (a hash, then an exact comparison). O(count d).
IdenticalRows group_identical_rows(const float* rows, std::int64_t count, std::int64_t dim);

}  // namespace weave::knn
