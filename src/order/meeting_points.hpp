// Candidate links between path ends, found where the ends meet (docs/algorithms.md, "Stitching").
//
// Every path end registers at a few meeting points: the documents it is most similar to in the kNN
// graph (ends that share a neighbour are likely similar to each other), or the bucket of a random
// projection. At each meeting point the registered ends are sorted by a key (their similarity to the
// meeting document, or a projection), and each end is paired with the next `window` ends in that
// order, skipping the other end of its own path. Windows bound the pairs by registrations x window
// even where thousands of ends meet (exact duplicates all list the same few documents), and they
// give duplicates a chain of candidates instead of a hub that only a few can join. Each end then
// keeps only its most promising pairs (an estimate from the keys), so the rows fetched to score the
// candidates stay a few per end.
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

/// What the registrations' keys are: similarities to the meeting document (graph meeting points),
/// or projections on one direction (buckets).
enum class MeetingKeys { similarity, projection };

/// Collective. Routes the registrations to their meeting points' owners and pairs the ends there
/// by windows; each end then keeps its `per_end` (1..255) most promising pairs, by an estimate
/// from the keys (a lower bound on the similarity for MeetingKeys::similarity, the distance of the
/// projections otherwise), and a pair kept by either end is a candidate. Returns the distinct
/// candidates held here (the owner of their holder()). Every registration's end must be owned here;
/// the registrations are freed once sent (at 10^6 x 768 on 2 ranks they were 50 MB a rank). The
/// windows' pairs are offered in rounds of at most `round_pairs` a rank (tests make them small).
std::vector<EndPair> pair_ends_at_meetings(const mpi::Comm& comm, std::int64_t num_docs,
                                           std::vector<Registration> registrations, int window,
                                           MeetingKeys keys, int per_end, MeetingStats* stats = nullptr,
                                           std::int64_t round_pairs = std::int64_t{1} << 19);

}  // namespace weave::order
