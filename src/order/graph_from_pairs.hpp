// A rank's part of an undirected graph built from pairs that any rank gives (LocalGraph,
// order/knn_graph.hpp): the kNN graph's build and stitching's level graphs share it. A template
// over where a pair comes from, so that each caller's pairs are read where it holds them, without
// a copy into one format first (a copy of stitching's candidates was 18 MB a rank of fresh pages
// at 10^6 x 768 on 2 ranks).
#pragma once

#include <algorithm>
#include <bit>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "mpi/comm.hpp"
#include "mpi/flat_boxes.hpp"
#include "order/knn_graph.hpp"
#include "util/large_buffer.hpp"
#include "util/release.hpp"
#include "weave/error.hpp"
#include "weave/ids.hpp"

namespace weave::order {

/// The graph of `count` pairs given by pair_at(i) (std::nullopt: no pair at i), in bounded rounds:
/// each owned document's directed edges are counted, so the records (neighbour, weight) can be
/// placed straight into their document's bucket of the graph's own arrays; over several rounds in
/// two passes (the first sends one word per end), in one round at once. Memory: 12 bytes a directed
/// edge and one round's records, never every record at once.
template <typename PairAt>
LocalGraph build_graph_of(const mpi::Comm& comm, std::int64_t num_docs, BlockRange range, std::int64_t count,
                          PairAt pair_at, std::vector<std::int64_t> owner_offsets, std::int64_t pairs_per_round) {
  const std::int64_t n_local = range.size();
  LocalGraph g;
  g.num_docs = num_docs;
  g.ranks = comm.size();
  g.range = range;
  g.owner_offsets = std::move(owner_offsets);
  g.block_owners = BlockOwners(num_docs, comm.size());
  const std::int64_t rounds = comm.max((count + pairs_per_round - 1) / pairs_per_round);
  // The records' block indices take 31 bits (the high half of a signed word; run_order_stage
  // refuses larger blocks up front).
  WEAVE_ASSERT(comm.max(n_local) < std::int64_t{1} << 31, "graph: more than 2^31 - 1 documents on one rank");
  // A round sends, for every pair {u, v}, a record to the owner of u about u and to the owner of v
  // about v: the end's index in its owner's block in the high 32 bits of the first word (fields =
  // 1, counting), with the weight's bits in the low 32 and the other end's id in a second word
  // (fields = 2). It returns the records as batches: the own ones of the round (kept apart, no
  // exchange), then each received part.
  const int me = comm.rank();
  const std::vector<std::int64_t> first_of = g.rank_starts();
  auto round_records = [&](std::int64_t round, int fields) {
    // Every record into its owner's box, this rank's own too (a test of the owner here was a
    // branch mispredicted on every other record at 2 ranks: ~13% of this loop at 10^7 documents);
    // the own box is taken out before the exchange.
    std::vector<std::vector<std::int64_t>> send(static_cast<std::size_t>(comm.size()));
    const std::int64_t first = round * pairs_per_round, last = std::min(count, first + pairs_per_round);
    for (std::int64_t x = first; x < last; ++x) {
      const std::optional<WeightedPair> p = pair_at(x);
      if (!p) continue;
      const std::int64_t bits = std::bit_cast<std::uint32_t>(p->weight);
      for (auto [from, to] : {std::pair{p->u, p->v}, std::pair{p->v, p->u}}) {
        const int owner = g.owner(from);
        const std::int64_t record[2] = {(from - first_of[owner]) << 32 | bits, to};
        send[owner].insert(send[owner].end(), record, record + fields);
      }
    }
    std::vector<std::int64_t> own = std::move(send[me]);
    send[me].clear();
    std::vector<std::vector<std::int64_t>> batches = comm.alltoallv(send);
    batches[me] = std::move(own);  // nothing was sent to itself
    return batches;
  };
  // Bucketed by document straight into the graph's arrays (a counting sort: O(edges), not a sort
  // of all of them); then each document's few edges: by neighbour, the largest weight of a pair
  // kept, heaviest first, compacted towards the front (a bucket never moves past its own start).
  // Both steps visit documents at random (a reverse edge's end), so the counters and slots of
  // records a few ahead are prefetched: at 10^7 documents these two loops were most of the build,
  // waiting on cache and TLB misses one record at a time. A record's slot waits on its counter,
  // so the counters are asked for far ahead (16 and 8 records ahead: the 10^7 build 8.1-8.3 s, 48
  // and 24: 7.7-7.9, 96 and 48: 7.6). `stride`: the words of a record.
  constexpr std::size_t kFar = 96, kNear = 48;
  // Buckets of at most this many records take one insertion sort and a scan for repeats (below).
  constexpr std::size_t kFewSlots = 64;
  util::LargeVector<std::int64_t> first(static_cast<std::size_t>(n_local + 1), 0);
  auto count_records = [&](const std::int64_t* r, std::size_t records, std::size_t stride) {
    for (std::size_t x = 0; x < records; ++x) {
      if (x + kFar < records) __builtin_prefetch(&first[(r[stride * (x + kFar)] >> 32) + 1], 1);
      ++first[(r[stride * x] >> 32) + 1];
    }
  };
  util::LargeVector<std::int64_t> next;
  auto place_records = [&](const std::int64_t* r, std::size_t records) {
    for (std::size_t x = 0; x < records; ++x) {
      if (x + kFar < records) __builtin_prefetch(&next[r[2 * (x + kFar)] >> 32], 1);
      if (x + kNear < records) {
        const std::int64_t ahead = next[r[2 * (x + kNear)] >> 32];
        __builtin_prefetch(g.neighbor.data() + ahead, 1);
        __builtin_prefetch(g.weight.data() + ahead, 1);
      }
      const std::int64_t* record = r + 2 * x;
      const std::int64_t s = next[record[0] >> 32]++;
      g.neighbor[s] = record[1];
      g.weight[s] = std::bit_cast<float>(static_cast<std::uint32_t>(record[0]));
    }
  };
  auto allocate_slots = [&] {
    for (std::int64_t i = 0; i < n_local; ++i) first[i + 1] += first[i];
    g.neighbor.resize(static_cast<std::size_t>(first[n_local]));
    g.weight.resize(static_cast<std::size_t>(first[n_local]));
    next.assign(first.begin(), first.end() - 1);
  };
  if (rounds == 1) {
    // One round: its records travel once and are counted, then placed, where they arrive (the
    // stitching levels' graphs, small graphs); the bound is the same, one round's records. The
    // own records are taken from the pairs where they are, not copied into a box of their own:
    // that copy was most of the round's memory, all of it fresh pages (10^6 x 768 on 2 ranks:
    // ~18 MB a rank of the first stitching level's 30, the graph's build 0.066-0.147 s).
    mpi::FlatBoxes boxes(comm.size(), 2);
    auto for_each_remote = [&](auto&& visit) {
      for (std::int64_t x = 0; x < count; ++x)
        if (const std::optional<WeightedPair> p = pair_at(x))
          for (auto [from, to] : {std::pair{p->u, p->v}, std::pair{p->v, p->u}})
            if (!range.contains(GlobalId(from))) visit(*p, from, to);
    };
    for_each_remote([&](const WeightedPair&, std::int64_t from, std::int64_t) { boxes.count(g.owner(from)); });
    boxes.allocate();
    for_each_remote([&](const WeightedPair& p, std::int64_t from, std::int64_t to) {
      const int owner = g.owner(from);
      std::int64_t* record = boxes.put(owner);
      record[0] = (from - first_of[owner]) << 32 | static_cast<std::int64_t>(std::bit_cast<std::uint32_t>(p.weight));
      record[1] = to;
    });
    const util::UninitVector<std::int64_t> received = boxes.exchange(comm);
    // The own records, pair by pair: a pair's ends here, each with the other end (a document's
    // counter asked for kFar pairs ahead, as for the records).
    auto for_each_own = [&](auto&& visit, auto&& ahead) {
      for (std::int64_t x = 0; x < count; ++x) {
        if (x + static_cast<std::int64_t>(kFar) < count)
          if (const std::optional<WeightedPair> p = pair_at(x + static_cast<std::int64_t>(kFar)))
            for (std::int64_t end : {p->u, p->v})
              if (range.contains(GlobalId(end))) ahead(end - range.begin);
        if (const std::optional<WeightedPair> p = pair_at(x))
          for (auto [from, to] : {std::pair{p->u, p->v}, std::pair{p->v, p->u}})
            if (range.contains(GlobalId(from))) visit(from - range.begin, to, p->weight);
      }
    };
    for_each_own([&](std::int64_t local, std::int64_t, float) { ++first[local + 1]; },
                 [&](std::int64_t local) { __builtin_prefetch(&first[local + 1], 1); });
    count_records(received.data(), received.size() / 2, 2);
    allocate_slots();
    for_each_own(
        [&](std::int64_t local, std::int64_t to, float w) {
          const std::int64_t s = next[local]++;
          g.neighbor[s] = to;
          g.weight[s] = w;
        },
        [&](std::int64_t local) { __builtin_prefetch(&next[local], 1); });
    place_records(received.data(), received.size() / 2);
  } else {
    // Two passes of rounds: the first counts each owned document's directed edges (one word per
    // end), so the second can place the records; never every record at once.
    for (std::int64_t round = 0; round < rounds; ++round)
      for (const auto& b : round_records(round, 1)) count_records(b.data(), b.size(), 1);
    allocate_slots();
    for (std::int64_t round = 0; round < rounds; ++round)
      for (const auto& b : round_records(round, 2)) place_records(b.data(), b.size() / 2);
  }
  util::release(next);
  struct Directed {
    std::int64_t to;
    float w;
  };
  std::vector<Directed> bucket;
  g.offsets.assign(static_cast<std::size_t>(n_local + 1), 0);
  std::int64_t kept = 0;
  // The greedy's edge order among one document's edges: weight descending, then the neighbour's id
  // (the pair's (smaller, larger) ids order like the neighbours, whichever side of doc they lie).
  auto heavier = [](const Directed& x, const Directed& y) { return x.w != y.w ? x.w > y.w : x.to < y.to; };
  for (std::int64_t i = 0; i < n_local; ++i) {
    bucket.clear();
    for (std::int64_t s = first[i]; s < first[i + 1]; ++s) bucket.push_back({g.neighbor[s], g.weight[s]});
    auto last = bucket.begin();
    if (bucket.size() <= kFewSlots) {
      // One sort, then each neighbour at its first place (its largest weight). An edge listed from
      // both sides has one weight (similarity is symmetric), so its copies are neighbours in this
      // order; any other repeat is found by a scan of the kept edges, which a mask of the kept
      // neighbours' low id bits spares most new ones. (Two sorts, by neighbour to drop the repeats
      // and then by weight, were a quarter of the kNN graph's build.) The sort is an insertion
      // sort: a bucket's ~2k records are partly in order already (the document's own list comes
      // heaviest first), and std::sort's overhead on so few cost the 10^7 build ~0.5 s
      // (read stage 7.8-7.9 -> 7.2 s).
      for (std::size_t x = 1; x < bucket.size(); ++x) {
        const Directed moving = bucket[x];
        std::size_t at = x;
        for (; at > 0 && heavier(moving, bucket[at - 1]); --at) bucket[at] = bucket[at - 1];
        bucket[at] = moving;
      }
      std::uint64_t seen = 0;
      for (auto e = bucket.begin(); e != bucket.end(); ++e) {
        const std::uint64_t bit = std::uint64_t{1} << (static_cast<std::uint64_t>(e->to) & 63);
        if (last != bucket.begin() && (last - 1)->to == e->to) continue;
        if ((seen & bit) != 0 && std::any_of(bucket.begin(), last, [&](const Directed& k) { return k.to == e->to; })) continue;
        seen |= bit;
        *last++ = *e;
      }
    } else {
      std::sort(bucket.begin(), bucket.end(), [](const Directed& x, const Directed& y) { return x.to != y.to ? x.to < y.to : x.w > y.w; });
      last = std::unique(bucket.begin(), bucket.end(), [](const Directed& x, const Directed& y) { return x.to == y.to; });
      std::sort(bucket.begin(), last, heavier);
    }
    for (auto e = bucket.begin(); e != last; ++e, ++kept) {
      g.neighbor[kept] = e->to, g.weight[kept] = e->w;
      g.local_slots += range.contains(GlobalId(e->to)) ? 1 : 0;
    }
    g.offsets[i + 1] = kept;
  }
  util::release(first);
  g.neighbor.resize(static_cast<std::size_t>(kept));  // the capacity of the directed edges stays
  g.weight.resize(static_cast<std::size_t>(kept));
  // Only hubs get a by-neighbour index (a kNN document has ~2k slots, scanned): 8 bytes a slot
  // for every document before (780 MB a rank at 10^7 documents on 2 ranks).
  g.hub_offsets.push_back(0);
  for (std::int64_t i = 0; i < n_local; ++i) {
    if (g.degree(i) <= LocalGraph::kScanSlots) continue;
    g.hubs.push_back(i);
    const auto from = static_cast<std::ptrdiff_t>(g.hub_slots.size());
    for (std::int64_t s = g.offsets[i]; s < g.offsets[i + 1]; ++s) g.hub_slots.push_back(s);
    std::sort(g.hub_slots.begin() + from, g.hub_slots.end(),
              [&](std::int64_t x, std::int64_t y) { return g.neighbor[x] < g.neighbor[y]; });
    g.hub_offsets.push_back(static_cast<std::int64_t>(g.hub_slots.size()));
  }
  return g;
}

}  // namespace weave::order
