#include "order/meeting_points.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

#include "util/random.hpp"
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

/// Every exchange buffer here is sized before it is filled: at 10^7 documents the first level's
/// buffers grown by doubling were a quarter of the order stage's page faults (and their copies).
using Boxes = std::vector<std::vector<std::int64_t>>;

/// Per-rank boxes with room for words[r] words each.
Boxes reserved_boxes(const std::vector<std::size_t>& words) {
  Boxes boxes(words.size());
  for (std::size_t r = 0; r < words.size(); ++r) boxes[r].reserve(words[r]);
  return boxes;
}

/// Sends the boxes (emptied, their memory freed) and makes one record of every `fields` words
/// that arrive, into a vector sized once.
template <typename Record, typename Make>
std::vector<Record> exchange_records(const mpi::Comm& comm, Boxes& boxes, std::size_t fields, Make&& make) {
  const Boxes parts = comm.alltoallv(boxes);
  boxes = {};
  std::size_t total = 0;
  for (const auto& part : parts) total += part.size() / fields;
  std::vector<Record> records;
  records.reserve(total);
  for (const auto& part : parts)
    for (std::size_t x = 0; x + fields <= part.size(); x += fields) records.push_back(make(&part[x]));
  return records;
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
  std::vector<std::size_t> words(static_cast<std::size_t>(p), 0);
  for (const auto& r : registrations) words[r.owner] += 4;
  Boxes send = reserved_boxes(words);
  for (const auto& r : registrations)
    send[r.owner].insert(send[r.owner].end(), {r.meeting, key_bits(r.key), r.end, r.partner});
  std::vector<Registration> here = exchange_records<Registration>(comm, send, 4, [&](const std::int64_t* w) {
    return Registration{w[0], comm.rank(), key_of(w[1]), w[2], w[3]};
  });
  // By meeting point, then key descending, then end id: the same order at any rank count.
  std::sort(here.begin(), here.end(), [](const Registration& x, const Registration& y) {
    if (x.meeting != y.meeting) return x.meeting < y.meeting;
    if (x.key != y.key) return x.key > y.key;
    return x.end < y.end;
  });

  // Windows: each end with its next `window` ends, as (a, b, estimate), sent to both ends' owners
  // (two passes over the windows: the first counts what goes where).
  std::int64_t largest = 0;
  auto for_each_window_pair = [&](auto&& visit) {
    for (std::size_t first = 0; first < here.size();) {
      std::size_t last = first;
      while (last < here.size() && here[last].meeting == here[first].meeting) ++last;
      largest = std::max<std::int64_t>(largest, static_cast<std::int64_t>(last - first));
      for (std::size_t i = first; i < last; ++i)
        for (std::size_t j = i + 1; j < last && j <= i + static_cast<std::size_t>(window); ++j) {
          const Registration &x = here[i], &y = here[j];
          if (x.end == y.end || x.partner == y.end) continue;  // the same end, or its own path
          visit(x, y);
        }
      first = last;
    }
  };
  std::fill(words.begin(), words.end(), 0);
  for_each_window_pair([&](const Registration& x, const Registration& y) {
    words[owners(GlobalId(x.end))] += 4;
    words[owners(GlobalId(y.end))] += 4;
  });
  Boxes to_ends = reserved_boxes(words);
  for_each_window_pair([&](const Registration& x, const Registration& y) {
    const auto [a, b] = std::minmax(x.end, y.end);
    const std::int64_t bits = key_bits(estimate(x.key, y.key, keys));
    for (std::int64_t end : {a, b}) {
      auto& box = to_ends[owners(GlobalId(end))];
      box.insert(box.end(), {end, a, b, bits});
    }
  });
  if (stats) {
    stats->registrations = static_cast<std::int64_t>(here.size());
    stats->largest_meeting = largest;
  }
  here = {};

  // At each end's owner: its pairs, best estimate first (then the other end's id), each other end
  // once (its first offer is its best estimate), the `per_end` best kept; a pair kept by either of
  // its ends goes to its holder. The offers are grouped by end with a counting sort over this
  // rank's documents, then each end's few offers sorted alone.
  struct Offer {
    std::int64_t end, other;
    float estimate;
  };
  std::vector<Offer> arrived = exchange_records<Offer>(comm, to_ends, 4, [](const std::int64_t* w) {
    return Offer{w[0], w[0] == w[1] ? w[2] : w[1], key_of(w[3])};
  });
  const BlockRange mine = block_range(num_docs, p, comm.rank());
  std::vector<std::int64_t> group(static_cast<std::size_t>(mine.size() + 1), 0);  // offers of each end
  for (const Offer& o : arrived) ++group[o.end - mine.begin + 1];
  for (std::int64_t i = 0; i < mine.size(); ++i) group[i + 1] += group[i];
  std::vector<Offer> offers(arrived.size());
  {
    std::vector<std::int64_t> next(group.begin(), group.end() - 1);
    for (const Offer& o : arrived) offers[next[o.end - mine.begin]++] = o;
  }
  arrived = {};
  Boxes kept(static_cast<std::size_t>(p));
  std::vector<std::int64_t> taken;  // the other ends kept for the current end
  for (std::int64_t i = 0; i < mine.size(); ++i) {
    const auto first = offers.begin() + group[i], last = offers.begin() + group[i + 1];
    if (first == last) continue;
    std::sort(first, last, [](const Offer& x, const Offer& y) {
      if (x.estimate != y.estimate) return x.estimate > y.estimate;
      return x.other < y.other;
    });
    taken.clear();
    for (auto o = first; o != last; ++o) {
      if (per_end > 0 && taken.size() >= static_cast<std::size_t>(per_end)) break;
      if (std::find(taken.begin(), taken.end(), o->other) != taken.end()) continue;  // a worse offer of a kept pair
      taken.push_back(o->other);
      const auto [lo, hi] = std::minmax(o->end, o->other);
      const EndPair pair{lo, hi};
      auto& box = kept[owners(GlobalId(pair.holder()))];
      box.insert(box.end(), {pair.a, pair.b});
    }
  }
  offers = {};

  std::vector<EndPair> out;
  for (const auto& part : comm.alltoallv(kept))
    for (std::size_t x = 0; x + 1 < part.size(); x += 2) out.push_back({part[x], part[x + 1]});
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace weave::order
