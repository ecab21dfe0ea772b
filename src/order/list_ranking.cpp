// List ranking by a sparse ruling set (docs/algorithms.md, "Placement"):
//  1. Rulers: every path end, and about one interior document in 16-64 (by a hash of its id).
//  2. Walks: from each ruler, a walker per link steps along the path, one hop per round, until it
//     reaches the next ruler; every document it passes records (ruler, hops, side). Each document is
//     passed twice at most, so the walks move O(N) records in all, however long the paths.
//  3. The rulers and the hop counts between them form short paths of their own, ranked by pointer
//     doubling with weighted links (O(log) rounds over N / spacing rulers).
//  4. Every document takes its position from the nearer-to-start ruler that walked past it.
// Pointer doubling over all documents instead moved O(N log N) records (3.9 s of a 1M-document
// order at 2 ranks; this takes a small fraction of it).
#include "order/list_ranking.hpp"

#include <algorithm>
#include <unordered_map>

#include "mpi/ask_owners.hpp"
#include "util/random.hpp"
#include "weave/error.hpp"

namespace weave::order {

namespace {

/// About one interior document in this many is a ruler: the walks take about this many rounds
/// times log(N) at most (the longest gap between sampled rulers: latency, a collective per round),
/// the doubling ranks N / this in log rounds (random visits, a cost per ruler). Few documents per
/// rank: 16, the rounds' latency matters; millions per rank: sparser, the doubling's random visits
/// do (5M per rank: placement 2.7 s at 16, 2.0 at 32, 1.5 at 64; the positions are the same for
/// any spacing, which depends on N / P only).
std::uint64_t default_ruler_spacing(std::int64_t num_docs, int ranks) {
  const std::int64_t per_rank = num_docs / std::max(1, ranks);
  return per_rank < (std::int64_t{1} << 20) ? 16 : per_rank < (std::int64_t{1} << 22) ? 32 : 64;
}

/// The rulers' paths: per owned ruler its two neighbour rulers (-1 = none) and the hops to them.
struct ReducedPaths {
  std::int64_t first_doc = 0;        ///< the rank's first document
  std::vector<std::int64_t> rulers;  ///< owned ruler ids, ascending
  std::vector<std::int64_t> index;   ///< per owned document: its place in `rulers`, -1 if no ruler
  std::vector<std::int64_t> link;    ///< 2 per ruler
  std::vector<std::int64_t> hops;    ///< 2 per ruler
  /// A direct lookup: every document asks for its rulers, and a binary search over the rulers
  /// misses the caches at every step once they outgrow them (at 10^7 documents the placement took
  /// 28 times as long as at 10^6).
  std::int64_t index_of(std::int64_t doc) const {
    const std::int64_t x = index[doc - first_doc];
    WEAVE_ASSERT(x >= 0, "rank_paths: a walk ended at a document that is no ruler");
    return x;
  }
};

/// Where a ruler sits on its path, from pointer doubling over the rulers.
struct RulerPlace {
  std::int64_t start = -1, other_end = -1, position = 0, length = 1;
  int toward_start = 0;  ///< the side (link slot) that leads to the start
};

/// Pointer doubling on the rulers' paths with weighted links: each (ruler, side) pointer jumps to
/// the end of the path on that side, summing hops. O(log M) rounds for M rulers.
std::vector<RulerPlace> rank_rulers(const mpi::Comm& comm, std::int64_t num_docs, const ReducedPaths& r) {
  struct Pointer {
    std::int64_t target, hops, before;
    bool done;
  };
  const auto m = static_cast<std::int64_t>(r.rulers.size());
  const BlockOwners owners(num_docs, comm.size());
  auto owner = [&](std::int64_t doc) { return owners(GlobalId(doc)); };
  std::vector<Pointer> ptr(static_cast<std::size_t>(2 * m));
  for (std::int64_t i = 0; i < m; ++i)
    for (int s = 0; s < 2; ++s) {
      const std::int64_t next = r.link[2 * i + s];
      ptr[2 * i + s] = next < 0 ? Pointer{r.rulers[i], 0, -1, true} : Pointer{next, r.hops[2 * i + s], r.rulers[i], false};
    }
  // The unfinished pointers, and the rounds' message buffers, reused (fresh pages each round cost
  // more than the records at 10^7 documents).
  std::vector<std::int64_t> unfinished;
  for (std::int64_t x = 0; x < 2 * m; ++x)
    if (!ptr[x].done) unfinished.push_back(x);
  const auto ranks = static_cast<std::size_t>(comm.size());
  const std::vector<std::int64_t> first_of = block_starts(num_docs, comm.size());
  // A question is two words (the target's index in its owner's block << 32 | the asking pointer,
  // `before`), an answer four (the pointer << 2 | done << 1 | the target is an end, then target,
  // hops, before): 3 and 6 ids before.
  WEAVE_ASSERT(comm.max(2 * m) < std::int64_t{1} << 32, "rank_paths: more than 2^31 rulers on one rank");
  std::vector<std::vector<std::int64_t>> ask(ranks), asked, answer(ranks), answered;
  for (int round = 0;; ++round) {
    WEAVE_ASSERT(round < 80, "rank_paths: no convergence (are the links a set of simple paths?)");
    // Ask each unfinished pointer's target for its pointer leading away from `before`.
    std::erase_if(unfinished, [&](std::int64_t x) { return ptr[x].done; });
    for (auto& box : ask) box.clear();
    for (std::int64_t x : unfinished) {
      const int q = owner(ptr[x].target);
      ask[q].insert(ask[q].end(), {(ptr[x].target - first_of[q]) << 32 | x, ptr[x].before});
    }
    if (comm.sum(static_cast<std::int64_t>(unfinished.size())) == 0) break;
    comm.alltoallv_into(ask, asked);
    for (auto& box : answer) box.clear();
    // Questions and answers name rulers at random: past the caches (10^7 documents) each is a few
    // memory latencies, so what they read is prefetched ahead (the ruler's index 16 records
    // ahead, then its links and pointers 8 ahead, once the index has arrived).
    constexpr std::size_t kFar = 16, kNear = 8;
    for (int from = 0; from < comm.size(); ++from)
      for (std::size_t y = 0; y + 1 < asked[from].size(); y += 2) {
        if (y + 2 * kFar < asked[from].size()) __builtin_prefetch(&r.index[asked[from][y + 2 * kFar] >> 32]);
        if (y + 2 * kNear < asked[from].size()) {
          const std::int64_t ahead = r.index[asked[from][y + 2 * kNear] >> 32];
          if (ahead >= 0) {
            __builtin_prefetch(&r.link[2 * ahead]);
            __builtin_prefetch(&ptr[2 * ahead]);
          }
        }
        const std::int64_t i = r.index_of(r.first_doc + (asked[from][y] >> 32)), before = asked[from][y + 1];
        // The onward side is the one whose first neighbour is not `before`.
        const int s = r.link[2 * i] == before ? 1 : 0;
        WEAVE_ASSERT(r.link[2 * i + 1 - s] == before, "rank_paths: links are not symmetric");
        const Pointer& p = ptr[2 * i + s];
        const std::int64_t pointer = asked[from][y] & 0xffffffff;
        answer[from].insert(answer[from].end(), {pointer << 2 | (p.done ? 2 : 0) | (r.link[2 * i + s] < 0 ? 1 : 0),
                                                 p.target, p.hops, p.before});
      }
    // Answers come from the state before this round's updates, as doubling requires.
    comm.alltoallv_into(answer, answered);
    for (const auto& part : answered)
      for (std::size_t y = 0; y + 3 < part.size(); y += 4) {
        if (y + 4 * kNear < part.size()) __builtin_prefetch(&ptr[part[y + 4 * kNear] >> 2], 1);
        Pointer& p = ptr[part[y] >> 2];
        if ((part[y] & 1) != 0) {  // the target is an end in that direction
          p.done = true;
          continue;
        }
        p.target = part[y + 1];
        p.hops += part[y + 2];
        p.before = part[y + 3];
        p.done = (part[y] & 2) != 0;
      }
  }
  std::vector<RulerPlace> out(static_cast<std::size_t>(m));
  for (std::int64_t i = 0; i < m; ++i) {
    const Pointer &a = ptr[2 * i], &b = ptr[2 * i + 1];
    const int toward_start = a.target <= b.target ? 0 : 1;
    out[i] = {std::min(a.target, b.target), std::max(a.target, b.target), ptr[2 * i + toward_start].hops,
              a.hops + b.hops + 1, toward_start};
  }
  return out;
}

}  // namespace

std::vector<PathPosition> rank_paths(const mpi::Comm& comm, std::int64_t num_docs, BlockRange range,
                                     const std::vector<std::int64_t>& links, std::uint64_t ruler_spacing) {
  const std::int64_t n = range.size();
  const BlockOwners owners(num_docs, comm.size());
  auto owner = [&](std::int64_t doc) { return owners(GlobalId(doc)); };
  auto degree = [&](std::int64_t i) { return (links[2 * i] >= 0 ? 1 : 0) + (links[2 * i + 1] >= 0 ? 1 : 0); };
  const std::uint64_t spacing = ruler_spacing > 0 ? ruler_spacing : default_ruler_spacing(num_docs, comm.size());
  auto is_ruler = [&](std::int64_t doc) {
    const std::int64_t i = doc - range.begin;
    return degree(i) < 2 || util::mix64(static_cast<std::uint64_t>(doc) ^ 0x72756c6572ULL) % spacing == 0;
  };

  ReducedPaths reduced;
  reduced.first_doc = range.begin;
  reduced.index.assign(static_cast<std::size_t>(n), -1);
  for (std::int64_t i = 0; i < n; ++i)
    if (is_ruler(range.begin + i)) {
      reduced.index[i] = static_cast<std::int64_t>(reduced.rulers.size());
      reduced.rulers.push_back(range.begin + i);
    }
  reduced.link.assign(2 * reduced.rulers.size(), -1);
  reduced.hops.assign(2 * reduced.rulers.size(), 0);

  // Walks. A walker: (document to visit, the document it came from, its ruler, hops from the ruler,
  // the ruler's side it left by). A document passed from its side 0 (the slot that links to where
  // the walker came from) records the ruler, hops and that side; a ruler reached records the
  // reduced link on the side it was reached from. On the wire, three words: the document to visit
  // and the one it came from by their indices in their owners' blocks (the receiver knows the
  // sender), the ruler, hops << 1 | side (five ids before: most of the placement's traffic).
  WEAVE_ASSERT(comm.max(n) < std::int64_t{1} << 31, "rank_paths: more than 2^31 - 1 documents on one rank");
  const std::vector<std::int64_t> first_of = block_starts(num_docs, comm.size());
  std::vector<std::vector<std::int64_t>> out(static_cast<std::size_t>(comm.size()));
  auto send_walker = [&](std::int64_t next, std::int64_t from, std::int64_t ruler, std::int64_t hops, std::int64_t side) {
    const int r = owner(next);
    out[r].insert(out[r].end(), {(next - first_of[r]) << 32 | (from - range.begin), ruler, hops << 1 | side});
  };
  std::vector<std::int64_t> via_ruler(static_cast<std::size_t>(n), -1), via_hops(static_cast<std::size_t>(n), 0);
  std::vector<std::uint8_t> via_departure(static_cast<std::size_t>(n), 0);
  for (std::int64_t doc : reduced.rulers)
    for (int s = 0; s < 2; ++s) {
      const std::int64_t next = links[2 * (doc - range.begin) + s];
      if (next >= 0) send_walker(next, doc, doc, 1, s);
    }
  std::vector<std::vector<std::int64_t>> arrived;  // reused: fresh buffers each round cost page clearing
  for (std::int64_t rounds = 0;; ++rounds) {
    std::int64_t walking = 0;
    for (const auto& box : out) walking += static_cast<std::int64_t>(box.size() / 3);
    if (comm.sum(walking) == 0) break;
    WEAVE_ASSERT(rounds <= range.size() + num_docs, "rank_paths: a walk did not end (are the links simple paths?)");
    comm.alltoallv_into(out, arrived);
    for (auto& box : out) box.clear();
    // Walkers arrive at random documents: past the caches (10^7 documents) each visit is a few memory
    // latencies, so the documents' state is prefetched kAhead walkers ahead.
    constexpr std::size_t kAhead = 8 * 3;
    for (int sender = 0; sender < comm.size(); ++sender) {
      const auto& part = arrived[sender];
      for (std::size_t y = 0; y + 2 < part.size(); y += 3) {
        if (y + kAhead < part.size()) {
          const std::int64_t ahead = part[y + kAhead] >> 32;
          __builtin_prefetch(&links[2 * ahead]);
          __builtin_prefetch(&reduced.index[ahead]);
          __builtin_prefetch(&via_ruler[ahead], 1);
          __builtin_prefetch(&via_hops[ahead], 1);
        }
        const std::int64_t i = part[y] >> 32, doc = range.begin + i;
        const std::int64_t from = first_of[sender] + (part[y] & 0xffffffff), ruler = part[y + 1];
        const std::int64_t hops = part[y + 2] >> 1, departure = part[y + 2] & 1;
        const int side = links[2 * i] == from ? 0 : 1;
        WEAVE_ASSERT(links[2 * i + side] == from, "rank_paths: links are not symmetric");
        if (const std::int64_t r = reduced.index[i]; r >= 0) {
          reduced.link[2 * r + side] = ruler;
          reduced.hops[2 * r + side] = hops;
          continue;
        }
        if (side == 0) {
          via_ruler[i] = ruler;
          via_hops[i] = hops;
          via_departure[i] = static_cast<std::uint8_t>(departure);
        }
        const std::int64_t next = links[2 * i + 1 - side];  // interior: degree 2, onward is the other slot
        send_walker(next, doc, ruler, hops + 1, departure);
      }
    }
  }

  const std::vector<RulerPlace> places = rank_rulers(comm, num_docs, reduced);
  // Every document takes its place from one ruler, the one whose walk reached it on side 0: the
  // side that ruler left by says whether the document lies toward the start of the path or away
  // from it. Each distinct ruler is asked once (about 16 documents share one on each side: asking
  // per document, twice, was 3.2 of the 6.5 s of placing 10^7 documents).
  std::vector<std::int64_t> keys;
  std::vector<std::int64_t> key_of(static_cast<std::size_t>(n), -1);
  {
    std::unordered_map<std::int64_t, std::int64_t> index;
    index.reserve(reduced.rulers.size() * 2);
    for (std::int64_t i = 0; i < n; ++i) {
      if (reduced.index[i] >= 0) continue;
      const auto [it, added] = index.try_emplace(via_ruler[i], static_cast<std::int64_t>(keys.size()));
      if (added) keys.push_back(via_ruler[i]);
      key_of[i] = it->second;
    }
  }
  const auto answers = mpi::ask_owners<std::int64_t>(comm, keys, 5, owner, [&](std::int64_t doc, std::int64_t* a) {
    const RulerPlace& p = places[reduced.index_of(doc)];
    a[0] = p.start, a[1] = p.other_end, a[2] = p.position, a[3] = p.length, a[4] = p.toward_start;
  });

  std::vector<PathPosition> result(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    PathPosition& p = result[i];
    if (reduced.index[i] >= 0) {
      const RulerPlace& r = places[reduced.index[i]];
      p.start = r.start, p.other_end = r.other_end, p.position = r.position, p.length = r.length;
      p.predecessor = links[2 * i + r.toward_start];  // -1 at the start: that side has no link
      continue;
    }
    const std::int64_t* r = answers.data() + 5 * key_of[i];
    p.start = r[0], p.other_end = r[1], p.length = r[3];
    if (via_departure[i] == r[4]) {
      // The walk went toward the start: this document lies before its side-0 ruler, and its
      // predecessor is on the other side.
      p.position = r[2] - via_hops[i];
      p.predecessor = links[2 * i + 1];
    } else {
      p.position = r[2] + via_hops[i];
      p.predecessor = links[2 * i];
    }
  }
  return result;
}

}  // namespace weave::order
