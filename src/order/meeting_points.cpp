#include "order/meeting_points.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <utility>

#include "util/random.hpp"
#include "util/release.hpp"
#include "weave/error.hpp"
#include "weave/ids.hpp"

namespace weave::order {

namespace {

float key_of(std::int64_t bits) { return std::bit_cast<float>(static_cast<std::uint32_t>(bits)); }

/// How similar two ends that met are likely to be, from their keys alone. Similarities to the
/// meeting document s, t (angles a, b): cos(a + b) = s t - sqrt((1 - s^2)(1 - t^2)) is the least
/// their similarity can be. Projections: the closer, the likelier similar.
float estimate(float x, float y, MeetingKeys keys) {
  if (keys == MeetingKeys::projection) return -std::abs(x - y);
  const double s = std::clamp<double>(x, -1, 1), t = std::clamp<double>(y, -1, 1);
  return static_cast<float>(s * t - std::sqrt((1 - s * s) * (1 - t * t)));
}

/// Non-empty groups of records: group g is the records [begin[g], begin[g + 1]).
struct Groups {
  std::vector<std::int64_t> begin;
  std::size_t size() const { return begin.empty() ? 0 : begin.size() - 1; }
};

/// Records made from `count` sources (make(x)), grouped by key_of(x), keys ascending, each group in
/// source order. Keys in [0, dense_keys) with at least dense_keys / 16 records: a counting sort,
/// O(count + dense_keys); otherwise (any keys, or few records: a level's few ends must not cost a
/// pass over every document of the rank) a sort of the keys, O(count log count).
template <typename Record, typename KeyOf, typename Make>
std::vector<Record> group_by(std::size_t count, std::int64_t dense_keys, KeyOf&& key_of, Make&& make, Groups& groups) {
  groups = {};
  std::vector<Record> grouped(count);
  if (dense_keys > 0 && static_cast<std::int64_t>(count) >= dense_keys / 16) {
    // One array of N/P cursors, 32-bit where the records allow: start[k] is where key k's next
    // record goes, so after placing them it is where key k + 1 starts.
    auto place = [&]<typename Index>(Index) {
      std::vector<Index> start(static_cast<std::size_t>(dense_keys), 0);
      for (std::size_t x = 0; x < count; ++x) ++start[key_of(x)];
      Index at = 0;
      for (auto& k : start) at += std::exchange(k, at);
      // The records land at random in `grouped` (tens of MB at 10^6 x 768): each place is asked for
      // kAhead records before it is written.
      constexpr std::size_t kAhead = 16;
      for (std::size_t x = 0; x < count; ++x) {
        if (x + kAhead < count) __builtin_prefetch(grouped.data() + start[key_of(x + kAhead)], 1);
        grouped[start[key_of(x)]++] = make(x);
      }
      Index first = 0;
      for (std::int64_t k = 0; k < dense_keys; first = start[k++])
        if (start[k] > first) groups.begin.push_back(static_cast<std::int64_t>(first));
    };
    if (count < std::size_t{1} << 32) place(std::uint32_t{});
    else place(std::size_t{});
  } else {
    std::vector<std::pair<std::int64_t, std::size_t>> keyed(count);
    for (std::size_t x = 0; x < count; ++x) keyed[x] = {key_of(x), x};
    std::sort(keyed.begin(), keyed.end());
    for (std::size_t y = 0; y < count; ++y) {
      grouped[y] = make(keyed[y].second);
      if (y == 0 || keyed[y].first != keyed[y - 1].first) groups.begin.push_back(static_cast<std::int64_t>(y));
    }
  }
  groups.begin.push_back(static_cast<std::int64_t>(count));
  return grouped;
}

}  // namespace

std::int64_t EndPair::holder() const {
  const std::uint64_t h = util::mix64(static_cast<std::uint64_t>(a) * 0x9e3779b97f4a7c15ULL ^ static_cast<std::uint64_t>(b));
  return (h & 1) != 0 ? a : b;
}

std::vector<EndPair> pair_ends_at_meetings(const mpi::Comm& comm, std::int64_t num_docs,
                                           const std::vector<std::int64_t>& end_offsets,
                                           PackedRegistrations registrations, int window, MeetingKeys keys,
                                           int per_end, MeetingStats* stats, std::int64_t round_pairs) {
  WEAVE_ASSERT(window >= 1 && per_end >= 1 && per_end <= 255 && round_pairs >= 1,
               "meeting points: window, kept pairs per end or round size out of range");
  const int p = comm.size();
  WEAVE_ASSERT(end_offsets.size() == static_cast<std::size_t>(p) + 1, "meeting points: the ends' numbering is not by rank");
  const BlockRange mine = block_range(num_docs, p, comm.rank());
  // The ends numbered here, by their place among this rank's numbers: offers name an end by its
  // place, and its best offers are kept in its row of `best` as they arrive.
  const std::int64_t first = end_offsets[static_cast<std::size_t>(comm.rank())];
  const auto ends = static_cast<std::size_t>(end_offsets[static_cast<std::size_t>(comm.rank()) + 1] - first);
  WEAVE_ASSERT(registrations.first_ == first && registrations.partners_.size() == ends,
               "meeting points: registrations made for another numbering of the ends");
  const std::vector<std::int64_t> partners = std::move(registrations.partners_);
  std::vector<std::int64_t> from_rank;  // registrations each rank sent: its ends' owner
  util::UninitVector<std::int64_t> arrived = registrations.boxes_.exchange(comm, &from_rank);
  constexpr std::size_t kFields = PackedRegistrations::kFields;  // a registration's words, as packed
  const std::size_t arrivals = arrived.size() / kFields;
  std::vector<std::size_t> from_start(static_cast<std::size_t>(p) + 1, 0);  // rank r's in [from_start[r], from_start[r + 1])
  for (int r = 0; r < p; ++r) from_start[r + 1] = from_start[r] + static_cast<std::size_t>(from_rank[r]);
  // A registration at its meeting point: the end is its owner's place number `place` (its number
  // end_offsets[owner] + place orders like (owner, place)); `following` is how many of the ends
  // after it in the meeting's order its window reaches.
  struct Registered {
    float key;
    std::uint32_t place;
    int owner;
    std::uint32_t following;
    std::int64_t end(const std::vector<std::int64_t>& offsets) const { return offsets[owner] + place; }
    bool same_end(const Registered& o) const { return owner == o.owner && place == o.place; }
    bool end_before(const Registered& o) const { return owner != o.owner ? owner < o.owner : place < o.place; }
  };
  // The sender of arrival x: the rank of the last one asked, unless x lies outside its part
  // (arrivals are mostly taken in order: no search over the P parts for each).
  int sender = 0;
  auto registered = [&](std::size_t x) {
    const auto word = static_cast<std::uint64_t>(arrived[kFields * x + 1]);
    if (x < from_start[sender] || x >= from_start[sender + 1])
      sender = static_cast<int>(std::upper_bound(from_start.begin(), from_start.end(), x) - from_start.begin()) - 1;
    return Registered{key_of(static_cast<std::int64_t>(word & 0xffffffff)), static_cast<std::uint32_t>(word >> 32), sender, 0};
  };
  // By meeting point, then key descending, then end (numbers order like ids): the same order at any
  // rank count. Meeting documents (graph levels) are owned here and grouped by their local index,
  // buckets by their id; then each meeting's few ends are sorted alone.
  bool owned_meetings = true;
  for (std::size_t x = 0; x < arrivals && owned_meetings; ++x) owned_meetings = mine.contains(GlobalId(arrived[kFields * x]));
  const std::int64_t shift = owned_meetings ? mine.begin : 0;
  Groups meetings;
  std::vector<Registered> here = group_by<Registered>(
      arrivals, owned_meetings ? mine.size() : 0, [&](std::size_t x) { return arrived[kFields * x] - shift; }, registered,
      meetings);
  util::release(arrived);
  std::int64_t largest = 0;
  for (std::size_t g = 0; g < meetings.size(); ++g) {
    const auto first_here = here.begin() + meetings.begin[g], last_here = here.begin() + meetings.begin[g + 1];
    largest = std::max<std::int64_t>(largest, last_here - first_here);
    std::sort(first_here, last_here,
              [](const Registered& x, const Registered& y) { return x.key != y.key ? x.key > y.key : x.end_before(y); });
    for (auto r = first_here; r != last_here; ++r)
      r->following = static_cast<std::uint32_t>(std::min<std::ptrdiff_t>(window, last_here - r - 1));
  }
  meetings = {};
  if (stats) {
    stats->registrations = static_cast<std::int64_t>(here.size());
    stats->largest_meeting = largest;
  }

  // Each end's best offers, best first (then the other end's id), each other end once (with the
  // best estimate of the meetings that paired them): row e of `best` holds end e's, `kept[e]` of
  // them. Folded in as the offers arrive, in any order: an other end among the per_end best by its
  // best estimate is in the row once that offer has come, and no later offer pushes it out (fewer
  // than per_end are better); an other end pushed out had per_end better ones, so no later, worse
  // offer of it gets in.
  struct Offer {
    std::int64_t other;
    float estimate;
  };
  auto better = [](const Offer& x, const Offer& y) {
    if (x.estimate != y.estimate) return x.estimate > y.estimate;
    return x.other < y.other;
  };
  std::vector<Offer> best(ends * static_cast<std::size_t>(per_end));
  std::vector<std::uint8_t> kept(ends, 0);
  // The estimate an offer must reach to enter end e's row: the row's last once it is full, -inf
  // before. Most offers are turned away (an end is offered up to window * reach pairs, 16 in
  // stitching's first level, and keeps 5) by this array alone, 4 bytes an end, mostly cached,
  // without a look at the row, which is a cache miss (at 10^6 x 768 on 2 ranks a third of the
  // meetings' time was the rows' first look). An offer below the bar changes nothing: it is worse
  // than the row's last, and a row entry for the same other end is at least that.
  std::vector<float> bar(ends, -std::numeric_limits<float>::infinity());
  auto row_of = [&](std::size_t e) { return best.data() + e * static_cast<std::size_t>(per_end); };
  auto fold = [&](std::uint32_t e, const Offer& o) {
    if (o.estimate < bar[e] || o.other == partners[e]) return;
    Offer* row = row_of(e);
    int n = kept[e];
    for (int x = 0; x < n; ++x)
      if (row[x].other == o.other) {
        if (!better(o, row[x])) return;
        std::copy(row + x + 1, row + n, row + x);
        --n;
        break;
      }
    if (n == per_end) {
      if (!better(o, row[n - 1])) return;
      --n;
    }
    int at = n;
    for (; at > 0 && better(o, row[at - 1]); --at) row[at] = row[at - 1];
    row[at] = o;
    kept[e] = static_cast<std::uint8_t>(n + 1);
    if (n + 1 == per_end) bar[e] = row[n].estimate;
  };

  // Windows: each end with the next `window` ends of its meeting, the pair offered to the end of
  // the two that comes first in the meeting's order (the one nearer the meeting point) only, at its
  // owner, as (the end's number with the estimate's bits, the other end). Offered to both ends, the
  // two rows of a good pair both kept it, and an end far from all its meeting points filled its
  // row with pairs that the nearer ends had kept anyway: at 10^6 x 768 on 2 ranks 1.46M distinct
  // candidates from 6 kept per end, 1.80M offered to the nearer end alone, whose levels' mean
  // adjacent similarity was 0.03-0.11% higher on the synthetic graphs and the same on the others
  // (docs/benchmarks.md, session 49). In rounds of at most round_pairs pairs (whole positions): the
  // offers of a level are up to window * reach a path end, and made all at once they were most of
  // the level's fresh memory, which the kernel clears page by page.
  // An end's partner is offered to it like any other end and turned away when the offer arrives
  // (the partner's owner would have to register it too: a quarter of the registrations' bytes).
  auto visit_pairs = [&](std::size_t i, auto&& visit) {
    const Registered& x = here[i];
    for (std::size_t j = i + 1; j <= i + x.following; ++j)
      if (!here[j].same_end(x)) visit(x, here[j]);
  };
  auto offer_word = [](const Registered& x, std::uint32_t bits) {
    return static_cast<std::int64_t>(std::uint64_t{x.place} << 32 | bits);
  };
  for (std::size_t from = 0;;) {
    if (comm.max(from < here.size() ? 1 : 0) == 0) break;
    mpi::FlatBoxes to_ends(p, 2);
    std::size_t to = from;
    for (std::int64_t pairs = 0; to < here.size() && pairs < round_pairs; ++to)
      visit_pairs(to, [&](const Registered& x, const Registered&) {
        to_ends.count(x.owner);
        ++pairs;
      });
    to_ends.allocate();
    for (std::size_t i = from; i < to; ++i)
      visit_pairs(i, [&](const Registered& x, const Registered& y) {
        const auto bits = std::bit_cast<std::uint32_t>(estimate(x.key, y.key, keys));
        std::int64_t* w = to_ends.put(x.owner);
        w[0] = offer_word(x, bits), w[1] = y.end(end_offsets);
      });
    from = to;
    const util::UninitVector<std::int64_t> w = to_ends.exchange(comm);
    // An end's bar is asked for 2 kAhead offers before it is needed, and its row (tens of MB in
    // all: a cache miss) and partner kAhead offers before, where the offer passes the bar (at 10^6
    // x 768 on 2 ranks the folding took 0.10 s at 4 offers ahead, 0.09 at 8, 0.08 at 16 and 32).
    constexpr std::size_t kAhead = 16;
    for (std::size_t x = 0; x + 1 < w.size(); x += 2) {
      if (x + 4 * kAhead < w.size()) {
        const auto ahead = static_cast<std::size_t>(static_cast<std::uint64_t>(w[x + 4 * kAhead]) >> 32);
        if (ahead < ends) __builtin_prefetch(bar.data() + ahead);
      }
      if (x + 2 * kAhead < w.size()) {
        const auto word = static_cast<std::uint64_t>(w[x + 2 * kAhead]);
        const auto ahead = static_cast<std::size_t>(word >> 32);
        if (ahead < ends && !(key_of(static_cast<std::int64_t>(word & 0xffffffff)) < bar[ahead])) {
          __builtin_prefetch(row_of(ahead));
          __builtin_prefetch(row_of(ahead) + per_end - 1);
          __builtin_prefetch(kept.data() + ahead);
          __builtin_prefetch(partners.data() + ahead);
        }
      }
      const auto word = static_cast<std::uint64_t>(w[x]);
      const auto e = static_cast<std::uint32_t>(word >> 32);
      WEAVE_ASSERT(e < ends, "meeting points: an offer for an end that did not register here");
      fold(e, Offer{w[x + 1], key_of(static_cast<std::int64_t>(word & 0xffffffff))});
    }
  }
  util::release(here);

  // Each end's kept pairs, where it is: no pair is sent to a rank of its own. A pair kept by both
  // its ends comes twice, once from each (sending each to one of its ends' owners to keep it once
  // cost the meetings a sixth of their time at 10^6 x 768 on 2 ranks: 0.125 -> 0.105 s, medians of
  // twelve alternating runs).
  std::vector<EndPair> out;
  std::size_t pairs = 0;
  for (std::size_t e = 0; e < ends; ++e) pairs += kept[e];
  out.reserve(pairs);
  for (std::size_t e = 0; e < ends; ++e)
    for (int x = 0; x < kept[e]; ++x) {
      const std::int64_t end = first + static_cast<std::int64_t>(e);  // minmax returns references
      const auto [lo, hi] = std::minmax(end, row_of(e)[x].other);
      out.push_back({lo, hi});
    }
  return out;
}

}  // namespace weave::order
