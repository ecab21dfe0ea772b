#include "order/meeting_points.hpp"

#include <algorithm>
#include <bit>

#include "util/random.hpp"
#include "weave/ids.hpp"

namespace weave::order {

namespace {

std::int64_t key_bits(float key) { return static_cast<std::int64_t>(std::bit_cast<std::uint32_t>(key)); }
float key_of(std::int64_t bits) { return std::bit_cast<float>(static_cast<std::uint32_t>(bits)); }

}  // namespace

std::int64_t EndPair::holder() const {
  const std::uint64_t h = util::mix64(static_cast<std::uint64_t>(a) * 0x9e3779b97f4a7c15ULL ^ static_cast<std::uint64_t>(b));
  return (h & 1) != 0 ? a : b;
}

std::vector<EndPair> pair_ends_at_meetings(const mpi::Comm& comm, std::int64_t num_docs,
                                           const std::vector<Registration>& registrations, int window,
                                           MeetingStats* stats) {
  const int p = comm.size();
  std::vector<std::vector<std::int64_t>> send(static_cast<std::size_t>(p));
  for (const auto& r : registrations)
    send[r.owner].insert(send[r.owner].end(), {r.meeting, key_bits(r.key), r.end, r.partner});
  std::vector<Registration> here;
  for (const auto& part : comm.alltoallv(send))
    for (std::size_t x = 0; x + 3 < part.size(); x += 4)
      here.push_back({part[x], comm.rank(), key_of(part[x + 1]), part[x + 2], part[x + 3]});
  send = {};
  // By meeting point, then key descending, then end id: the same order at any rank count.
  std::sort(here.begin(), here.end(), [](const Registration& x, const Registration& y) {
    if (x.meeting != y.meeting) return x.meeting < y.meeting;
    if (x.key != y.key) return x.key > y.key;
    return x.end < y.end;
  });

  std::vector<std::vector<std::int64_t>> pairs(static_cast<std::size_t>(p));
  std::int64_t largest = 0;
  for (std::size_t first = 0; first < here.size();) {
    std::size_t last = first;
    while (last < here.size() && here[last].meeting == here[first].meeting) ++last;
    largest = std::max<std::int64_t>(largest, static_cast<std::int64_t>(last - first));
    for (std::size_t i = first; i < last; ++i)
      for (std::size_t j = i + 1; j < last && j <= i + static_cast<std::size_t>(window); ++j) {
        const Registration &x = here[i], &y = here[j];
        if (x.end == y.end || x.partner == y.end) continue;  // the same end, or its own path
        const auto [a, b] = std::minmax(x.end, y.end);
        auto& box = pairs[block_owner(num_docs, p, GlobalId(EndPair{a, b}.holder()))];
        box.insert(box.end(), {a, b});
      }
    first = last;
  }
  if (stats) {
    stats->registrations = static_cast<std::int64_t>(here.size());
    stats->largest_meeting = largest;
  }
  here = {};

  std::vector<EndPair> out;
  for (const auto& part : comm.alltoallv(pairs))
    for (std::size_t x = 0; x + 1 < part.size(); x += 2) out.push_back({part[x], part[x + 1]});
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace weave::order
