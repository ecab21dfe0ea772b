// Samples drawn by a hash of the global id: the `count` documents whose key mix(seed, id) is lowest.
// The key is a bijection of the id, so keys never tie and the sample is the same set for any number
// of ranks; it is found by a binary search on the key with exact (integer) global counts.
#pragma once

#include <cstdint>
#include <vector>

#include "mpi/comm.hpp"
#include "util/random.hpp"

namespace weave::knn::ivf {

inline std::uint64_t sample_key(std::uint64_t seed, std::int64_t id) {
  return util::mix64(util::mix64(seed) ^ static_cast<std::uint64_t>(id));
}

/// Collective. This rank's documents (ids first, first + own) among the `count` lowest keys of all
/// `total` documents, as local indices in ascending key order.
std::vector<std::int64_t> lowest_key_sample(const mpi::Comm& comm, std::int64_t first, std::int64_t own,
                                            std::int64_t total, std::uint64_t seed, std::int64_t count);

}  // namespace weave::knn::ivf
