#include "knn/identical_rows.hpp"

#include <algorithm>
#include <cstring>
#include <numeric>
#include <string_view>

namespace weave::knn {

IdenticalRows group_identical_rows(const float* rows, std::int64_t count, std::int64_t dim) {
  const std::size_t row_bytes = static_cast<std::size_t>(dim) * sizeof(float);
  auto bytes = [&](std::int64_t i) {
    return std::string_view(reinterpret_cast<const char*>(rows + i * dim), row_bytes);
  };
  std::vector<std::size_t> hash(static_cast<std::size_t>(count));
  for (std::int64_t i = 0; i < count; ++i) hash[i] = std::hash<std::string_view>{}(bytes(i));
  // Rows in (hash, row) order: equal rows are neighbours within a run of equal hashes.
  std::vector<std::int64_t> by_hash(static_cast<std::size_t>(count));
  std::iota(by_hash.begin(), by_hash.end(), 0);
  std::sort(by_hash.begin(), by_hash.end(),
            [&](std::int64_t a, std::int64_t b) { return hash[a] != hash[b] ? hash[a] < hash[b] : a < b; });
  // group_of[i]: the first row of i's group. Within a run of equal hashes, a row joins the first
  // earlier row it equals (a hash collision between different rows just makes another group).
  std::vector<std::int64_t> group_of(static_cast<std::size_t>(count));
  for (std::size_t run = 0; run < by_hash.size();) {
    std::size_t end = run + 1;
    while (end < by_hash.size() && hash[by_hash[end]] == hash[by_hash[run]]) ++end;
    for (std::size_t x = run; x < end; ++x) {
      const std::int64_t i = by_hash[x];
      group_of[i] = i;
      for (std::size_t y = run; y < x; ++y) {
        const std::int64_t first = by_hash[y];
        if (group_of[first] == first && bytes(first) == bytes(i)) {
          group_of[i] = first;
          break;
        }
      }
    }
    run = end;
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

}  // namespace weave::knn
