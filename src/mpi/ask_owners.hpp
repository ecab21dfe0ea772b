// The request/response exchange every stage needs: "for each of these keys, ask the rank that owns
// it for `width` values". Two all-to-alls; the answers come back in the order of the keys.
#pragma once

#include <cstdint>
#include <vector>

#include "mpi/comm.hpp"

namespace weave::mpi {

/// owner(key) -> rank; answer(key, T* out) writes `width` values for a key this rank owns. Keys
/// for which owner() returns -1 are not sent; their answers stay value-initialised.
template <typename T, typename Owner, typename Answer>
std::vector<T> ask_owners(const Comm& comm, const std::vector<std::int64_t>& keys, std::size_t width, Owner&& owner,
                          Answer&& answer) {
  const int p = comm.size();
  std::vector<std::vector<std::int64_t>> ask(static_cast<std::size_t>(p));
  std::vector<int> where(keys.size());
  for (std::size_t j = 0; j < keys.size(); ++j) {
    where[j] = owner(keys[j]);
    if (where[j] >= 0) ask[where[j]].push_back(keys[j]);
  }
  const auto asked = comm.alltoallv(ask);
  std::vector<std::vector<T>> reply(static_cast<std::size_t>(p));
  for (int r = 0; r < p; ++r) {
    reply[r].resize(asked[r].size() * width);
    for (std::size_t x = 0; x < asked[r].size(); ++x) answer(asked[r][x], reply[r].data() + x * width);
  }
  const auto replies = comm.alltoallv(reply);
  std::vector<T> out(keys.size() * width);
  std::vector<std::size_t> next(static_cast<std::size_t>(p), 0);
  for (std::size_t j = 0; j < keys.size(); ++j) {
    if (where[j] < 0) continue;
    const auto& from = replies[where[j]];
    std::copy_n(from.begin() + static_cast<std::ptrdiff_t>(next[where[j]]++ * width), width,
                out.begin() + static_cast<std::ptrdiff_t>(j * width));
  }
  return out;
}

}  // namespace weave::mpi
