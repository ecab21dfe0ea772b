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

#include <bit>
#include <cstdint>
#include <utility>
#include <vector>

#include "mpi/comm.hpp"
#include "mpi/flat_boxes.hpp"
#include "weave/error.hpp"

namespace weave::order {

/// An end registered at a meeting point. `meeting` is any id that is unique among this level's
/// meeting points; `owner` the rank that pairs the ends meeting there (the same for every
/// registration of that meeting point).
struct Registration {
  std::int64_t meeting = 0;
  int owner = 0;
  float key = 0;              ///< sort key at the meeting point, descending (ties: end number ascending)
  std::int64_t end = -1;      ///< the end's number (pair_ends_at_meetings' end_offsets)
  std::int64_t partner = -1;  ///< the number of the other end of its path (its own when alone)
};

/// A candidate link between two ends (documents, or their numbers at a stitching level); a < b.
struct EndPair {
  /// The end whose owner scores the pair once it is a link (stitching's settling): a or b by a
  /// hash of the pair, so each rank scores about as many links as the others (the smaller end
  /// would load the first ranks). A candidate itself stays with the end that kept it.
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

/// A rank's registrations, packed for their meeting points' owners. Made from a source that emits
/// them twice alike: once to count, once to write. No vector of them is held beside the packed
/// words: at 10^6 x 768 on 2 ranks such a vector was 40 MB a rank, which the heap grew by (9,000
/// pages the kernel cleared) before the 40 MB packed.
class PackedRegistrations {
 public:
  /// source(emit) calls emit(const Registration&) for every registration, in any order; it is called
  /// twice and must emit the same registrations both times. The ends are those this rank numbers,
  /// [first, first + count).
  template <typename Source>
  PackedRegistrations(int ranks, std::int64_t first, std::int64_t count, Source&& source)
      : boxes_(ranks, kFields), first_(first), partners_(static_cast<std::size_t>(count), -1) {
    WEAVE_ASSERT(count >= 0 && count < (std::int64_t{1} << 32), "meeting points: more than 2^32 ends on one rank");
    source([&](const Registration& r) {
      WEAVE_ASSERT(r.end >= first && r.end < first + count, "meeting points: an end registered by a rank that does not number it");
      boxes_.count(r.owner);
    });
    boxes_.allocate();
    source([&](const Registration& r) {
      const auto place = static_cast<std::uint64_t>(r.end - first_);
      partners_[place] = r.partner;
      std::int64_t* w = boxes_.put(r.owner);
      w[0] = r.meeting;
      w[1] = static_cast<std::int64_t>(place << 32 | std::bit_cast<std::uint32_t>(r.key));
    });
  }
  /// Registrations held in a vector.
  static PackedRegistrations of(int ranks, std::int64_t first, std::int64_t count,
                                const std::vector<Registration>& registrations) {
    return PackedRegistrations(ranks, first, count, [&](auto&& emit) {
      for (const Registration& r : registrations) emit(r);
    });
  }

 private:
  friend std::vector<EndPair> pair_ends_at_meetings(const mpi::Comm&, std::int64_t, const std::vector<std::int64_t>&,
                                                    PackedRegistrations, int, MeetingKeys, int, MeetingStats*,
                                                    std::int64_t);
  /// (meeting, the end's place among this rank's numbers << 32 | key bits): the meeting point's
  /// owner knows the end's owner from the part it came in, so its number is not sent (a third of
  /// the registrations' bytes). The partner stays here: an offer of an end's partner is turned away
  /// where the end's offers arrive, not at the meeting point (a quarter of the bytes before).
  static constexpr std::size_t kFields = 2;
  mpi::FlatBoxes boxes_;
  std::int64_t first_ = 0;              ///< the first end this rank numbers
  std::vector<std::int64_t> partners_;  ///< per end numbered here, its partner's number (-1: not registered)
};

/// Collective. The ends are numbered by rank (rank r numbers [end_offsets[r], end_offsets[r + 1]),
/// in the order of their ids: stitching's dense numbering of a level's ends), the meeting ids of
/// graph meeting points are documents (owned by their block's rank, num_docs in all).
/// Routes the registrations to their meeting points' owners and pairs the ends there
/// by windows (an end never with itself or its partner); each end then keeps its `per_end`
/// (1..255) most promising pairs, by an estimate from the keys (a lower bound on the similarity for
/// MeetingKeys::similarity, the distance of the projections otherwise), and a pair kept by either
/// end is a candidate. Returns the pairs kept by the ends registered here, each end's in turn: a
/// pair that both its ends kept comes twice (from their owners; ~1% of the pairs at 10^6 x 768),
/// which the level's graph, keeping one edge per pair of ends, absorbs. Every registration's end
/// must be owned here; the packed registrations are freed once sent (at 10^6 x 768 on 2 ranks they
/// were 30 MB a rank).
/// The windows' pairs are offered in rounds of at most `round_pairs` a rank (tests make them small).
std::vector<EndPair> pair_ends_at_meetings(const mpi::Comm& comm, std::int64_t num_docs,
                                           const std::vector<std::int64_t>& end_offsets,
                                           PackedRegistrations registrations, int window, MeetingKeys keys,
                                           int per_end, MeetingStats* stats = nullptr,
                                           std::int64_t round_pairs = std::int64_t{1} << 19);

/// The same from registrations in any order.
inline std::vector<EndPair> pair_ends_at_meetings(const mpi::Comm& comm, std::int64_t num_docs,
                                                  const std::vector<std::int64_t>& end_offsets,
                                                  const std::vector<Registration>& registrations, int window,
                                                  MeetingKeys keys, int per_end, MeetingStats* stats = nullptr,
                                                  std::int64_t round_pairs = std::int64_t{1} << 19) {
  const std::int64_t first = end_offsets[static_cast<std::size_t>(comm.rank())];
  return pair_ends_at_meetings(
      comm, num_docs, end_offsets,
      PackedRegistrations::of(comm.size(), first, end_offsets[static_cast<std::size_t>(comm.rank()) + 1] - first, registrations),
      window, keys, per_end, stats, round_pairs);
}

}  // namespace weave::order
