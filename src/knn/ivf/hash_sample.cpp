#include "knn/ivf/hash_sample.hpp"

#include <algorithm>
#include <numeric>

namespace weave::knn::ivf {

std::vector<std::int64_t> lowest_key_sample(const mpi::Comm& comm, std::int64_t first, std::int64_t own,
                                            std::int64_t total, std::uint64_t seed, std::int64_t count) {
  std::vector<std::uint64_t> keys(static_cast<std::size_t>(own));
  for (std::int64_t l = 0; l < own; ++l) keys[l] = sample_key(seed, first + l);
  std::vector<std::int64_t> order(static_cast<std::size_t>(own));
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](std::int64_t a, std::int64_t b) { return keys[a] < keys[b]; });
  if (count >= total) return order;
  std::vector<std::uint64_t> sorted(static_cast<std::size_t>(own));
  for (std::int64_t i = 0; i < own; ++i) sorted[i] = keys[order[i]];
  // The least t with #{key <= t} >= count, bit by bit from the top (64 exact global counts).
  std::uint64_t t = 0;
  for (int bit = 63; bit >= 0; --bit) {
    const std::uint64_t probe = t | ((std::uint64_t{1} << bit) - 1);  // t's prefix with the rest set to 1
    const auto below = static_cast<std::int64_t>(std::upper_bound(sorted.begin(), sorted.end(), probe) - sorted.begin());
    if (comm.sum(below) < count) t |= std::uint64_t{1} << bit;
  }
  const auto kept = std::upper_bound(sorted.begin(), sorted.end(), t) - sorted.begin();
  order.resize(static_cast<std::size_t>(kept));
  return order;
}

}  // namespace weave::knn::ivf
