// Sorting records by a bounded integer key in O(n) passes, where std::sort's O(n log n) comparisons
// are what a loop costs: the records a rank scores or fetches, grouped by the document they name.
#pragma once

#include <algorithm>
#include <bit>
#include <cstdint>
#include <memory>
#include <vector>

namespace weave::util {

/// Sorts `records` by key(record) in [0, key_end), stably (records of one key keep their order): a
/// least-significant-digit radix sort in passes of up to 11 bits, as many as key_end needs (two up
/// to 2^22 keys, three up to 2^33), each a count and a scatter, through one buffer as large as
/// the records.
template <typename Record, typename Key>
void radix_sort_by_key(std::vector<Record>& records, std::uint64_t key_end, Key&& key) {
  if (records.size() < 2) return;
  constexpr int kDigitBits = 11;
  const int bits = std::max(1, static_cast<int>(std::bit_width(std::max<std::uint64_t>(key_end, 1) - 1)));
  const int passes = (bits + kDigitBits - 1) / kDigitBits;
  const int digit_bits = (bits + passes - 1) / passes;  // passes of equal width: fewer buckets
  const std::uint64_t mask = (std::uint64_t{1} << digit_bits) - 1;
  // Not zero-filled: every element is written by the pass that uses it.
  auto buffer = std::make_unique_for_overwrite<Record[]>(records.size());
  std::vector<std::size_t> start((std::size_t{1} << digit_bits) + 1);
  Record* from = records.data();
  Record* to = buffer.get();
  for (int pass = 0; pass < passes; ++pass) {
    const int shift = pass * digit_bits;
    std::fill(start.begin(), start.end(), 0);
    for (std::size_t x = 0; x < records.size(); ++x) ++start[((static_cast<std::uint64_t>(key(from[x])) >> shift) & mask) + 1];
    for (std::size_t b = 0; b + 1 < start.size(); ++b) start[b + 1] += start[b];
    for (std::size_t x = 0; x < records.size(); ++x)
      to[start[(static_cast<std::uint64_t>(key(from[x])) >> shift) & mask]++] = from[x];
    std::swap(from, to);
  }
  if (from != records.data()) std::copy(from, from + records.size(), records.data());
}

}  // namespace weave::util
