// The request/response exchange every stage needs: "for each of these keys, ask the rank that owns
// it for `width` values". Two all-to-alls; the answers come back in the order of the keys.
#pragma once

#include <algorithm>
#include <compare>
#include <cstdint>
#include <vector>

#include "mpi/comm.hpp"
#include "util/release.hpp"

namespace weave::mpi {

/// What ask_owners tells of the keys ahead by default: nothing.
struct NothingAhead {
  void operator()(std::int64_t) const {}
};

/// owner(key) -> rank; answer(key, T* out) writes all `width` values for a key this rank owns. Keys
/// for which owner() returns -1 are not sent; their answers are value-initialised. Keys and
/// answers travel in flat buffers (one copy into the message, one out of it), none zero-filled
/// first (util/uninit_vector.hpp). ahead(key) is called a few keys before answer(key), for answers
/// that read scattered memory (rows of a block: each a cache miss that the copy would wait on).
template <typename T, typename Owner, typename Answer, typename Ahead = NothingAhead>
util::UninitVector<T> ask_owners(const Comm& comm, const std::vector<std::int64_t>& keys, std::size_t width, Owner&& owner,
                          Answer&& answer, Ahead&& ahead = Ahead{}) {
  const auto p = static_cast<std::size_t>(comm.size());
  std::vector<int> where(keys.size());
  std::vector<std::int64_t> ask_counts(p, 0);
  for (std::size_t j = 0; j < keys.size(); ++j) {
    where[j] = owner(keys[j]);
    if (where[j] >= 0) ++ask_counts[where[j]];
  }
  std::vector<std::int64_t> first(p + 1, 0);  // where each rank's keys start, in send order
  for (std::size_t r = 0; r < p; ++r) first[r + 1] = first[r] + ask_counts[r];
  util::UninitVector<std::int64_t> ask(static_cast<std::size_t>(first[p]));
  std::vector<std::int64_t> slot(keys.size(), -1);  // key j's place in the send (and answer) order
  {
    std::vector<std::int64_t> next(first.begin(), first.end() - 1);
    for (std::size_t j = 0; j < keys.size(); ++j)
      if (where[j] >= 0) ask[slot[j] = next[where[j]]++] = keys[j];
  }
  std::vector<std::int64_t> asked_counts;
  const util::UninitVector<std::int64_t> asked = comm.alltoallv_flat(ask, ask_counts, &asked_counts);
  util::release(ask);
  util::UninitVector<T> reply(asked.size() * width);
  constexpr std::size_t kAhead = 4;
  for (std::size_t x = 0; x < asked.size(); ++x) {
    if (x + kAhead < asked.size()) ahead(asked[x + kAhead]);
    answer(asked[x], reply.data() + x * width);
  }
  for (auto& c : asked_counts) c *= static_cast<std::int64_t>(width);
  // Each owner answers every key it was asked: width values each, whose counts this rank knows.
  for (auto& c : ask_counts) c *= static_cast<std::int64_t>(width);
  util::UninitVector<T> replies = comm.alltoallv_flat_known(reply, asked_counts, ask_counts);
  util::release(reply);
  // Answers come back in the order the keys were sent, so key j's answer is at slot[j]: when every
  // key was sent and in owner order already (ascending ids), that is the keys' order.
  bool in_order = true;
  for (std::size_t j = 0; j < keys.size() && in_order; ++j) in_order = slot[j] == static_cast<std::int64_t>(j);
  if (in_order) return replies;
  util::UninitVector<T> out(keys.size() * width);
  for (std::size_t j = 0; j < keys.size(); ++j) {
    const auto into = out.begin() + static_cast<std::ptrdiff_t>(j * width);
    if (slot[j] >= 0)
      std::copy_n(replies.begin() + static_cast<std::ptrdiff_t>(slot[j] * static_cast<std::int64_t>(width)), width, into);
    else
      std::fill_n(into, width, T{});
  }
  return out;
}

/// The order in which to ask for `keys` over several rounds so that every round asks each owner
/// its share. Keys in ascending order, as callers usually hold them, would have every rank ask the
/// owner of the lowest ids in the first round, the next owner in the next round, and so on: one
/// rank answers for all while the others wait (stitching's fetch rounds at 16 ranks). Here the
/// i-th of an owner's c keys goes by i / c, then by owner: each owner's keys spread evenly over the
/// rounds, still in their given order. Returns positions in `keys` (owner(key) in [-1, ranks)).
template <typename Owner>
std::vector<std::size_t> spread_over_owners(const std::vector<std::int64_t>& keys, int ranks, Owner&& owner) {
  const auto p = static_cast<std::size_t>(ranks);
  std::vector<int> where(keys.size());
  std::vector<std::int64_t> count(p + 1, 0);  // the last slot: keys that go nowhere (owner -1)
  for (std::size_t j = 0; j < keys.size(); ++j) {
    where[j] = owner(keys[j]);
    ++count[where[j] < 0 ? p : static_cast<std::size_t>(where[j])];
  }
  std::vector<std::size_t> order(keys.size());
  for (std::size_t j = 0; j < keys.size(); ++j) order[j] = j;
  if (std::count_if(count.begin(), count.end(), [](std::int64_t c) { return c > 0; }) <= 1) return order;
  struct Place {
    double share;  ///< i / c
    int owner;
    std::size_t at;
    auto operator<=>(const Place&) const = default;
  };
  std::vector<std::int64_t> seen(p + 1, 0);
  std::vector<Place> places(keys.size());
  for (std::size_t j = 0; j < keys.size(); ++j) {
    const std::size_t slot = where[j] < 0 ? p : static_cast<std::size_t>(where[j]);
    places[j] = {static_cast<double>(seen[slot]++) / static_cast<double>(count[slot]), where[j], j};
  }
  std::sort(places.begin(), places.end());
  for (std::size_t j = 0; j < keys.size(); ++j) order[j] = places[j].at;
  return order;
}

/// ask_owners in rounds of at most `keys_per_round` keys per rank (every rank takes part in every
/// round, with an empty share once its keys are done): the exchange buffers stay bounded whatever
/// the number of keys. Keys that come in one run per owner (ascending ids with block owners, as
/// callers usually hold them) are taken a share of every run per round, so each round asks every
/// owner rather than the owner of the lowest ids left (one rank answering for all at a time);
/// other keys in contiguous slices. No more memory than the keys and answers: O(P) to find the
/// runs (spread_over_owners, which takes any order, holds ~36 bytes a key). Answers in the order
/// of the keys, as ask_owners gives them.
template <typename T, typename Owner, typename Answer>
util::UninitVector<T> ask_owners_in_rounds(const Comm& comm, const std::vector<std::int64_t>& keys, std::size_t width,
                                    Owner&& owner, Answer&& answer, std::int64_t keys_per_round) {
  const auto n = static_cast<std::int64_t>(keys.size());
  const std::int64_t rounds = comm.max((n + keys_per_round - 1) / keys_per_round);
  if (rounds <= 1) return ask_owners<T>(comm, keys, width, owner, answer);
  struct Run {
    std::int64_t begin, end;
    std::int64_t part(std::int64_t r, std::int64_t of) const { return begin + (end - begin) * r / of; }
  };
  const auto p = static_cast<std::size_t>(comm.size());
  std::vector<Run> runs;
  std::vector<char> had(p + 1, 0);  // the last slot: keys that go nowhere (owner -1)
  std::size_t last_slot = p + 1;
  for (std::int64_t j = 0; j < n; ++j) {
    const int o = owner(keys[j]);
    const std::size_t slot = o < 0 ? p : static_cast<std::size_t>(o);
    if (slot != last_slot) {
      if (had[slot]) {  // an owner's keys in two places: contiguous slices
        runs.assign(1, Run{0, n});
        break;
      }
      had[slot] = 1;
      runs.push_back({j, j});
      last_slot = slot;
    }
    runs.back().end = j + 1;
  }
  // Round r takes [part(r), part(r + 1)) of every run: at most n / rounds + runs <= keys_per_round
  // + P + 1 keys.
  util::UninitVector<T> out(keys.size() * width);
  std::vector<std::int64_t> part;
  for (std::int64_t r = 0; r < rounds; ++r) {
    part.clear();
    for (const Run& run : runs) part.insert(part.end(), keys.begin() + run.part(r, rounds), keys.begin() + run.part(r + 1, rounds));
    const util::UninitVector<T> got = ask_owners<T>(comm, part, width, owner, answer);
    auto from = got.begin();
    for (const Run& run : runs) {
      const std::int64_t lo = run.part(r, rounds), hi = run.part(r + 1, rounds);
      const auto size = static_cast<std::ptrdiff_t>((hi - lo) * static_cast<std::int64_t>(width));
      std::copy(from, from + size, out.begin() + static_cast<std::ptrdiff_t>(lo * static_cast<std::int64_t>(width)));
      from += size;
    }
  }
  return out;
}

}  // namespace weave::mpi
