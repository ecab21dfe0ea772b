// Document ids and the ownership of contiguous blocks of them.
//
// A document's global id is its row in the concatenation of the corpus shards. Rank r owns the
// contiguous block block_range(n, size, r); LocalId indexes inside that block. The two id kinds are
// distinct types so that a local index can never be passed where a global id is expected.
#pragma once

#include <compare>
#include <cstdint>

namespace weave {

struct GlobalId {
  std::int64_t value = -1;  ///< row in the concatenated corpus; -1 = invalid
  constexpr explicit GlobalId(std::int64_t v = -1) : value(v) {}
  constexpr auto operator<=>(const GlobalId&) const = default;
  constexpr bool valid() const { return value >= 0; }
};

struct LocalId {
  std::int64_t value = -1;  ///< index inside the owning rank's block
  constexpr explicit LocalId(std::int64_t v = -1) : value(v) {}
  constexpr auto operator<=>(const LocalId&) const = default;
};

inline constexpr GlobalId kInvalidGlobalId{};

/// Half-open range [begin, end) of global ids owned by one rank.
struct BlockRange {
  std::int64_t begin = 0;
  std::int64_t end = 0;

  constexpr std::int64_t size() const { return end - begin; }
  constexpr bool contains(GlobalId g) const { return g.value >= begin && g.value < end; }
  /// Converts an owned global id; throws InternalError when the id is not owned.
  LocalId to_local(GlobalId g) const;
  /// Converts a local index of this block; throws InternalError when out of range.
  GlobalId to_global(LocalId l) const;
  constexpr bool operator==(const BlockRange&) const = default;
};

/// The block of n items owned by `rank` out of `size`: the first n % size ranks get one more.
BlockRange block_range(std::int64_t n, int size, int rank);

/// The rank whose block_range holds global id g (the inverse of block_range).
int block_owner(std::int64_t n, int size, GlobalId g);

}  // namespace weave
