// Document ids and the ownership of contiguous blocks of them.
//
// A document's global id is its row in the concatenation of the corpus shards. Rank r owns the
// contiguous block block_range(n, size, r); LocalId indexes inside that block. The two id kinds are
// distinct types so that a local index can never be passed where a global id is expected.
#pragma once

#include <algorithm>
#include <compare>
#include <cstdint>
#include <vector>

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

/// Where each rank's block starts: block_range(n, size, r).begin for r = 0 .. size - 1 (messages
/// that name a document by its index in its owner's block add it back).
std::vector<std::int64_t> block_starts(std::int64_t n, int size);

/// The rank whose block_range holds global id g (the inverse of block_range).
int block_owner(std::int64_t n, int size, GlobalId g);

/// The rank r with offsets[r] <= id < offsets[r + 1], for ids numbered by rank in any other blocks
/// (offsets: P + 1 ascending values, the last the count of ids).
inline int offsets_owner(const std::vector<std::int64_t>& offsets, std::int64_t id) {
  return static_cast<int>(std::upper_bound(offsets.begin(), offsets.end(), id) - offsets.begin()) - 1;
}

/// block_owner for many ids of one distribution (block_owner is this plus its range check), with
/// its set-up divisions done once and the lookup inline and without a 64-bit division (tens of
/// cycles, unpipelined, on the Xeons measured; the greedy computes an owner per message): a
/// quotient by multiplication with the divisor's reciprocal, off by at most one for ids below 2^52
/// and then corrected. No range check.
class BlockOwners {
 public:
  BlockOwners() = default;
  BlockOwners(std::int64_t n, int size)
      : base_(n / size),
        extra_(n % size),
        big_((n % size) * (n / size + 1)),
        inv_wide_(1.0 / static_cast<double>(n / size + 1)),
        inv_narrow_(n / size > 0 ? 1.0 / static_cast<double>(n / size) : 0.0) {}
  int operator()(GlobalId g) const {
    if (g.value < big_) return static_cast<int>(quotient(g.value, base_ + 1, inv_wide_));  // blocks of base + 1
    return static_cast<int>(extra_ + quotient(g.value - big_, base_, inv_narrow_));
  }

 private:
  static std::int64_t quotient(std::int64_t x, std::int64_t d, double inverse) {
    auto q = static_cast<std::int64_t>(static_cast<double>(x) * inverse);
    if (q * d > x) --q;
    else if ((q + 1) * d <= x) ++q;
    return q;
  }
  std::int64_t base_ = 0, extra_ = 0, big_ = 0;  ///< ids below big_ lie in the ranks with one extra
  double inv_wide_ = 1, inv_narrow_ = 0;
};

}  // namespace weave
