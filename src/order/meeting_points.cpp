#include "order/meeting_points.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <utility>

#include "util/random.hpp"
#include "weave/error.hpp"
#include "weave/ids.hpp"

namespace weave::order {

namespace {

std::int64_t key_bits(float key) { return static_cast<std::int64_t>(std::bit_cast<std::uint32_t>(key)); }
float key_of(std::int64_t bits) { return std::bit_cast<float>(static_cast<std::uint32_t>(bits)); }

/// How similar two ends that met are likely to be, from their keys alone. Similarities to the
/// meeting document s, t (angles a, b): cos(a + b) = s t - sqrt((1 - s^2)(1 - t^2)) is the least
/// their similarity can be. Projections: the closer, the likelier similar.
float estimate(float x, float y, MeetingKeys keys) {
  if (keys == MeetingKeys::projection) return -std::abs(x - y);
  const double s = std::clamp<double>(x, -1, 1), t = std::clamp<double>(y, -1, 1);
  return static_cast<float>(s * t - std::sqrt((1 - s * s) * (1 - t * t)));
}

/// Records of `fields` words for each rank in one flat buffer, counted before they are written:
/// every exchange buffer here is sized once (at 10^7 documents the first level's buffers grown by
/// doubling were a quarter of the order stage's page faults), and none is a vector per rank.
class FlatBoxes {
 public:
  FlatBoxes(int ranks, std::size_t fields) : counts_(static_cast<std::size_t>(ranks), 0), fields_(fields) {}
  void count(int rank) { ++counts_[rank]; }
  /// After the counts: room for them all.
  void allocate() {
    next_.assign(counts_.size(), 0);
    for (std::size_t r = 1; r < counts_.size(); ++r) next_[r] = next_[r - 1] + counts_[r - 1];
    words_.resize(static_cast<std::size_t>(next_.back() + counts_.back()) * fields_);
  }
  std::int64_t* put(int rank) { return words_.data() + static_cast<std::size_t>(next_[rank]++) * fields_; }
  /// Collective: what the ranks put for this one, in rank order (this object is emptied).
  util::UninitVector<std::int64_t> exchange(const mpi::Comm& comm) {
    for (auto& c : counts_) c *= static_cast<std::int64_t>(fields_);
    std::vector<std::int64_t> received_counts;
    util::UninitVector<std::int64_t> received = comm.alltoallv_flat(words_, counts_, &received_counts);
    words_ = {};
    return received;
  }

 private:
  std::vector<std::int64_t> counts_, next_;
  util::UninitVector<std::int64_t> words_;  ///< every record is put before the exchange
  std::size_t fields_;
};

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
      for (std::size_t x = 0; x < count; ++x) grouped[start[key_of(x)]++] = make(x);
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
                                           const std::vector<Registration>& registrations, int window,
                                           MeetingKeys keys, int per_end, MeetingStats* stats) {
  const int p = comm.size();
  const BlockOwners owners(num_docs, p);
  const BlockRange mine = block_range(num_docs, p, comm.rank());
  FlatBoxes send(p, 4);
  for (const auto& r : registrations) send.count(r.owner);
  send.allocate();
  for (const auto& r : registrations) {
    std::int64_t* w = send.put(r.owner);
    w[0] = r.meeting, w[1] = key_bits(r.key), w[2] = r.end, w[3] = r.partner;
  }
  util::UninitVector<std::int64_t> arrived = send.exchange(comm);
  const std::size_t arrivals = arrived.size() / 4;
  // `owner` becomes the end's owner, where the pairs go.
  auto registration = [&](std::size_t x) {
    const std::int64_t* w = &arrived[4 * x];
    return Registration{w[0], owners(GlobalId(w[2])), key_of(w[1]), w[2], w[3]};
  };
  // By meeting point, then key descending, then end id: the same order at any rank count. Meeting
  // documents (graph levels) are owned here and grouped by their local index, buckets by their id;
  // then each meeting's few ends are sorted alone.
  bool owned_meetings = true;
  for (std::size_t x = 0; x < arrivals && owned_meetings; ++x) owned_meetings = mine.contains(GlobalId(arrived[4 * x]));
  const std::int64_t shift = owned_meetings ? mine.begin : 0;
  Groups meetings;
  std::vector<Registration> here = group_by<Registration>(
      arrivals, owned_meetings ? mine.size() : 0, [&](std::size_t x) { return arrived[4 * x] - shift; }, registration,
      meetings);
  arrived = {};
  for (std::size_t g = 0; g < meetings.size(); ++g)
    if (meetings.begin[g + 1] - meetings.begin[g] > 1)
      std::sort(here.begin() + meetings.begin[g], here.begin() + meetings.begin[g + 1],
                [](const Registration& x, const Registration& y) { return x.key != y.key ? x.key > y.key : x.end < y.end; });

  // Windows: each end with its next `window` ends, as (end, other end, estimate), sent to both
  // ends' owners (two passes over the windows: the first counts what goes where).
  std::int64_t largest = 0;
  auto for_each_window_pair = [&](auto&& visit) {
    for (std::size_t g = 0; g < meetings.size(); ++g) {
      const auto first = static_cast<std::size_t>(meetings.begin[g]), last = static_cast<std::size_t>(meetings.begin[g + 1]);
      largest = std::max<std::int64_t>(largest, static_cast<std::int64_t>(last - first));
      for (std::size_t i = first; i < last; ++i)
        for (std::size_t j = i + 1; j < last && j <= i + static_cast<std::size_t>(window); ++j) {
          const Registration &x = here[i], &y = here[j];
          if (x.end == y.end || x.partner == y.end) continue;  // the same end, or its own path
          visit(x, y);
        }
    }
  };
  // An offer is two words: the end as its index in its owner's block with the estimate's bits, and
  // the other end (a rank's documents are fewer than 2^32).
  WEAVE_ASSERT((num_docs + p - 1) / p <= std::int64_t{1} << 32, "meeting points: a rank's block exceeds 2^32 documents");
  const std::vector<std::int64_t> block_begin = block_starts(num_docs, p);
  auto offer_word = [&](const Registration& x, std::uint32_t bits) {
    return static_cast<std::int64_t>(static_cast<std::uint64_t>(x.end - block_begin[x.owner]) << 32 | bits);
  };
  FlatBoxes to_ends(p, 2);
  for_each_window_pair([&](const Registration& x, const Registration& y) {
    to_ends.count(x.owner);
    to_ends.count(y.owner);
  });
  to_ends.allocate();
  for_each_window_pair([&](const Registration& x, const Registration& y) {
    const auto bits = std::bit_cast<std::uint32_t>(estimate(x.key, y.key, keys));
    std::int64_t* w = to_ends.put(x.owner);
    w[0] = offer_word(x, bits), w[1] = y.end;
    w = to_ends.put(y.owner);
    w[0] = offer_word(y, bits), w[1] = x.end;
  });
  if (stats) {
    stats->registrations = static_cast<std::int64_t>(here.size());
    stats->largest_meeting = largest;
  }
  here = {};
  meetings = {};

  // At each end's owner: its pairs, best estimate first (then the other end's id), each other end
  // once (its first offer is its best estimate), the `per_end` best kept; a pair kept by either of
  // its ends goes to its holder. The offers are grouped by end (group_by), then each end's best are
  // picked from its ~2 x window x reach offers.
  struct Offer {
    std::int64_t other;
    float estimate;
    std::uint32_t end;  ///< index in this rank's block
  };
  Groups ends;
  std::vector<Offer> offers;
  {
    const util::UninitVector<std::int64_t> w = to_ends.exchange(comm);
    offers = group_by<Offer>(
        w.size() / 2, mine.size(), [&](std::size_t x) { return static_cast<std::int64_t>(static_cast<std::uint64_t>(w[2 * x]) >> 32); },
        [&](std::size_t x) {
          const auto word = static_cast<std::uint64_t>(w[2 * x]);
          return Offer{w[2 * x + 1], key_of(static_cast<std::int64_t>(word & 0xffffffff)), static_cast<std::uint32_t>(word >> 32)};
        },
        ends);
  }
  auto better = [](const Offer& x, const Offer& y) {
    if (x.estimate != y.estimate) return x.estimate > y.estimate;
    return x.other < y.other;
  };
  std::vector<EndPair> kept_pairs;
  std::vector<Offer> best;  // the current end's best offers, one per other end, best first
  for (std::size_t g = 0; g < ends.size(); ++g) {
    const auto first = offers.begin() + ends.begin[g], last = offers.begin() + ends.begin[g + 1];
    best.clear();
    if (per_end <= 0) {
      std::sort(first, last, better);
      for (auto o = first; o != last; ++o)
        if (std::none_of(best.begin(), best.end(), [&](const Offer& b) { return b.other == o->other; })) best.push_back(*o);
    } else {
      // A list of at most per_end, kept sorted as the offers come (cheaper than sorting them all):
      // an other end pushed out of it had per_end better ones, so no later, worse offer of it gets in.
      for (auto o = first; o != last; ++o) {
        const auto same = std::find_if(best.begin(), best.end(), [&](const Offer& b) { return b.other == o->other; });
        if (same != best.end()) {
          if (!better(*o, *same)) continue;
          best.erase(same);
        } else if (best.size() == static_cast<std::size_t>(per_end)) {
          if (!better(*o, best.back())) continue;
          best.pop_back();
        }
        best.insert(std::upper_bound(best.begin(), best.end(), *o, better), *o);
      }
    }
    const std::int64_t end = mine.begin + first->end;
    for (const Offer& o : best) {
      const auto [lo, hi] = std::minmax(end, o.other);
      kept_pairs.push_back({lo, hi});
    }
  }
  offers = {};
  ends = {};
  FlatBoxes kept(p, 2);
  for (const EndPair& pair : kept_pairs) kept.count(owners(GlobalId(pair.holder())));
  kept.allocate();
  for (const EndPair& pair : kept_pairs) {
    std::int64_t* w = kept.put(owners(GlobalId(pair.holder())));
    w[0] = pair.a, w[1] = pair.b;
  }
  kept_pairs = {};

  // At the holder's owner: each pair once (both of its ends may have kept it), grouped by the
  // holder, then by the pair.
  std::vector<EndPair> out;
  {
    const util::UninitVector<std::int64_t> w = kept.exchange(comm);
    Groups holders;
    out = group_by<EndPair>(
        w.size() / 2, mine.size(), [&](std::size_t x) { return EndPair{w[2 * x], w[2 * x + 1]}.holder() - mine.begin; },
        [&](std::size_t x) { return EndPair{w[2 * x], w[2 * x + 1]}; }, holders);
    std::size_t kept_out = 0;
    for (std::size_t g = 0; g < holders.size(); ++g) {
      const auto first = out.begin() + holders.begin[g], last = out.begin() + holders.begin[g + 1];
      std::sort(first, last);
      for (auto it = first; it != last; ++it)
        if (it == first || *it != *(it - 1)) out[kept_out++] = *it;
    }
    out.resize(kept_out);
  }
  return out;
}

}  // namespace weave::order
