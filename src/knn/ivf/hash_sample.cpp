#include "knn/ivf/hash_sample.hpp"

#include <algorithm>
#include <numeric>
#include <tuple>
#include <utility>

namespace weave::knn::ivf {

std::vector<std::int64_t> lowest_key_sample(const mpi::Comm& comm, std::int64_t first, std::int64_t own,
                                            std::int64_t total, std::uint64_t seed, std::int64_t count) {
  // (key, row), the lowest `count` of them sorted: only those can be among the `count` lowest of
  // all ranks (a selection, then a sort of the few: 10^7 rows cost 0.1 s, a full sort 1.5 s).
  std::vector<std::pair<std::uint64_t, std::int64_t>> keyed(static_cast<std::size_t>(own));
  for (std::int64_t l = 0; l < own; ++l) keyed[l] = {sample_key(seed, first + l), l};
  const auto lowest = static_cast<std::ptrdiff_t>(std::min(own, count));
  std::nth_element(keyed.begin(), keyed.begin() + lowest, keyed.end());
  keyed.resize(static_cast<std::size_t>(lowest));
  std::sort(keyed.begin(), keyed.end());
  std::vector<std::int64_t> order(keyed.size());
  std::vector<std::uint64_t> sorted(keyed.size());
  for (std::size_t i = 0; i < keyed.size(); ++i) std::tie(sorted[i], order[i]) = keyed[i];
  if (count >= total) return order;
  // The least t with #{key <= t} >= count, bit by bit from the top (64 exact global counts; a rank
  // with more than `count` keys below a probe counts `count` of them, which decides alike).
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
