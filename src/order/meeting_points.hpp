// Candidate links between path ends, found where the ends meet (docs/algorithms.md, "Stitching").
//
// Every path end registers at a few meeting points: the documents it is most similar to in the kNN
// graph (ends that share a neighbour are likely similar to each other), or the bucket of a random
// projection. At each meeting point the registered ends are sorted by a key (their similarity to the
// meeting document, or a projection), and each end is paired with the next `window` ends in that
// order, skipping the other end of its own path. Windows bound the pairs by registrations x window
// even where thousands of ends meet (exact duplicates all list the same few documents), and they
// give duplicates a chain of candidates instead of a hub that only a few can join.
#pragma once

#include <cstdint>
#include <vector>

#include "mpi/comm.hpp"

namespace weave::order {

/// An end registered at a meeting point. `meeting` is any id that is unique among this level's
/// meeting points; `owner` the rank that pairs the ends meeting there (the same for every
/// registration of that meeting point).
struct Registration {
  std::int64_t meeting = 0;
  int owner = 0;
  float key = 0;              ///< sort key at the meeting point, descending (ties: end id ascending)
  std::int64_t end = -1;      ///< the end document
  std::int64_t partner = -1;  ///< the other end of its path (itself when alone)
};

/// A candidate link; a < b.
struct EndPair {
  /// The end whose owner holds the pair: a or b by a hash of the pair, so each rank holds about
  /// as many pairs as the others (the smaller end would load the first ranks).
  std::int64_t holder() const;

  std::int64_t a, b;
  bool operator==(const EndPair&) const = default;
  auto operator<=>(const EndPair&) const = default;
};

struct MeetingStats {
  std::int64_t registrations = 0;  ///< received here
  std::int64_t largest_meeting = 0;
};

/// Collective. Routes the registrations to their meeting points' owners, pairs the ends there by
/// windows, and returns the distinct candidate pairs held here (the owner of their holder()).
std::vector<EndPair> pair_ends_at_meetings(const mpi::Comm& comm, std::int64_t num_docs,
                                           const std::vector<Registration>& registrations, int window,
                                           MeetingStats* stats = nullptr);

}  // namespace weave::order
