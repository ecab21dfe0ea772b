// Distributed greedy path cover by rounds of fragment-level mutual best edges.
//
// State per owned document: its degree (0, 1, 2), and while it is an end of its path fragment
// (degree < 2) the other end of that fragment (its partner; itself when alone). A document's edges
// are sorted heaviest first and a cursor skips those that can never be used again (partner in the
// same fragment, neighbour interior, edge already taken), so each edge is passed over once in total.
//
// One round:
//  1. every end finds its heaviest eligible edge; ends exchange theirs with their partner, so both
//     ends of a fragment know the fragment's best edge;
//  2. the end incident to its fragment's best edge proposes it to the other endpoint's owner;
//  3. an edge proposed by both fragments it joins is accepted (on both sides, by the same rule);
//  4. the new ends learn their new partner; documents that became interior tell their neighbours.
// Each fragment joins at most one accepted edge per round, so the updates never chain. The rounds'
// records name documents by their index in their owner's block (post_indexed): an interior notice,
// most of the greedy's traffic, is one word.
#include "order/greedy.hpp"

#include <algorithm>
#include <bit>
#include <limits>
#include <memory>

#include "util/log.hpp"
#include "util/progress.hpp"
#include "weave/error.hpp"

namespace weave::order {

namespace {

std::int64_t bits(float w) { return static_cast<std::int64_t>(std::bit_cast<std::uint32_t>(w)); }
float weight_of(std::int64_t b) { return std::bit_cast<float>(static_cast<std::uint32_t>(b)); }

/// The weight's place in the edge order as an unsigned integer, heavier = larger (-0 and +0 are
/// equal weights).
std::uint32_t heaviness_of(float w) {
  if (w == 0) w = 0;
  const auto u = std::bit_cast<std::uint32_t>(w);
  return (u & 0x80000000u) != 0 ? ~u : (u | 0x80000000u);
}
float weight_of_heaviness(std::uint32_t h) { return std::bit_cast<float>((h & 0x80000000u) != 0 ? (h & 0x7fffffffu) : ~h); }

/// An edge between two documents of this rank, compact for the sort of the local pass: the
/// weight's heaviness and the two local indices (12 bytes where an Edge takes 24).
struct LocalEdge {
  std::uint32_t heaviness;
  std::uint32_t u, v;  ///< local indices, u < v
};

/// Sorts edges given in (u, v) order into the greedy's order (weight descending, then u, then v):
/// a stable radix sort on the weight alone keeps (u, v) order among equal weights. Two passes of
/// 16 bits over the heaviness, O(edges) instead of O(edges log edges) (9.8M edges on one rank:
/// 1.37 s with std::sort).
void sort_heaviest_first(std::vector<LocalEdge>& edges) {
  auto key = [](const LocalEdge& e) { return ~e.heaviness; };  // heaviest first
  // Not zero-filled: every element is written by the first pass (fresh pages cost 20% here).
  auto buffer = std::make_unique_for_overwrite<LocalEdge[]>(edges.size());
  std::vector<std::size_t> start(65537);
  for (int shift : {0, 16}) {
    std::fill(start.begin(), start.end(), 0);
    for (const LocalEdge& e : edges) ++start[((key(e) >> shift) & 0xffffu) + 1];
    for (std::size_t b = 0; b < 65536; ++b) start[b + 1] += start[b];
    if (shift == 0) {
      for (const LocalEdge& e : edges) buffer[start[key(e) & 0xffffu]++] = e;
    } else {
      for (std::size_t x = 0; x < edges.size(); ++x) {
        const LocalEdge& e = buffer[x];
        edges[start[(key(e) >> 16) & 0xffffu]++] = e;
      }
    }
  }
}

class Greedy {
 public:
  Greedy(const mpi::Comm& comm, const LocalGraph& g, const GreedyOptions& options, const InitialPaths& initial)
      : comm_(comm), g_(g), options_(options), n_(g.range.size()) {
    degree_.assign(n_, 0);
    partner_.resize(n_);
    for (std::int64_t i = 0; i < n_; ++i) partner_[i] = g.range.begin + i;
    // The rounds' records hold a block index in 31 bits (post_indexed).
    WEAVE_ASSERT(comm.max(n_) < (std::int64_t{1} << 31), "greedy: more than 2^31 - 1 documents on one rank");
    if (!initial.degree.empty()) {
      WEAVE_ASSERT(static_cast<std::int64_t>(initial.degree.size()) == n_ &&
                       static_cast<std::int64_t>(initial.partner.size()) == n_,
                   "greedy: initial paths do not match the graph");
      degree_ = initial.degree;
      partner_ = initial.partner;
    }
    interior_.assign(static_cast<std::size_t>((n_ + 63) / 64), 0);
    for (std::int64_t i = 0; i < n_; ++i)
      if (degree_[i] >= 2) interior_[i / 64] |= std::uint64_t{1} << (i % 64);
    first_of_ = g.rank_starts();
    cursor_.assign(g.offsets.begin(), g.offsets.end() - 1);
    dead_.assign(g.neighbor.size(), 0);
    links_.assign(static_cast<std::size_t>(2 * n_), -1);
    best_.resize(n_);
    fragment_best_.resize(n_);
  }

  PathCover run() {
    stats_.local_slot_share = local_slot_share();
    stats_.local_pass = comm_.size() == 1 || stats_.local_slot_share >= options_.local_pass_share;
    if (stats_.local_pass) local_pass();
    while (true) {
      const auto [active, accepted] = round();
      if (active == 0) break;
      stats_.accepted_per_round.push_back(accepted);
      stats_.accepted_total += accepted;
      ++stats_.rounds;
      if (options_.progress && (util::wall_seconds() - last_print_ > 2.0 || stats_.rounds == 1)) {
        last_print_ = util::wall_seconds();
        util::print_root(comm_, "[order] greedy round {}: {} edges accepted, {} fragments competing, {} edges in total\n",
                         stats_.rounds, accepted, active, stats_.accepted_total);
      }
      // Fragments with a candidate edge come in pairs per accepted edge at best; few acceptances
      // mean a contended chain: finish it sequentially, in batches, rather than pay a round per edge.
      if (static_cast<double>(accepted) < options_.tail_fraction * static_cast<double>(active) ||
          stats_.rounds >= options_.max_rounds) {
        finish_in_batches();
        break;
      }
    }
    stats_.messages = comm_.sum(messages_);
    // What a rank holds (its graph slots) plus the most it was handed at once in the tail.
    const std::int64_t peak = static_cast<std::int64_t>(g_.neighbor.size()) + handed_;
    stats_.peak_edges_max = comm_.max(peak);
    stats_.peak_edges_mean = static_cast<double>(comm_.sum(peak)) / comm_.size();
    return PathCover{std::move(links_), std::move(partner_), stats_};
  }

 private:
  int owner(std::int64_t doc) const { return g_.owner(doc); }
  std::int64_t local(std::int64_t doc) const { return doc - g_.range.begin; }
  bool is_local(std::int64_t doc) const { return g_.range.contains(GlobalId(doc)); }

  /// Whether slot s of end i can still be taken: not to its own fragment's other end, not the
  /// edge it already took (an end holds at most one, links_[2i]; checking it here spares finding
  /// the taken edge's slot, a search of scattered reads, at every acceptance), not to an
  /// interior document. Interior local neighbours are seen through their degree; remote ones were
  /// reported (interior notices) and marked dead.
  bool eligible(std::int64_t i, std::int64_t s) const {
    const std::int64_t w = g_.neighbor[s];
    return !dead_[s] && w != partner_[i] && w != links_[2 * i] && !(is_local(w) && interior(local(w)));
  }

  /// The heaviest eligible edge of end i (advancing its cursor past dead edges), or invalid.
  Edge best_edge(std::int64_t i) {
    const std::int64_t end = g_.offsets[i + 1];
    auto& c = cursor_[i];
    while (c < end && !eligible(i, c)) {
      if (!dead_[c]) dead_[c] = 1;  // ineligible now means ineligible forever
      ++c;
    }
    return c < end ? g_.edge(i, c) : Edge{};
  }

  using Boxes = std::vector<std::vector<std::int64_t>>;
  /// Emptied per-rank boxes that keep their capacity: the rounds reuse three sets of buffers (to
  /// send, to send updates, received), so the kernel does not clear fresh pages every round (21% of
  /// the greedy at 10^7 documents).
  static Boxes& emptied(Boxes& boxes, int ranks) {
    boxes.resize(static_cast<std::size_t>(ranks));
    for (auto& b : boxes) b.clear();
    return boxes;
  }
  Boxes& outboxes() { return emptied(send_, comm_.size()); }
  Boxes& update_boxes() { return emptied(updates_, comm_.size()); }
  const Boxes& exchange(const Boxes& send) {
    comm_.alltoallv_into(send, received_);
    return received_;
  }
  void post(std::vector<std::vector<std::int64_t>>& out, std::int64_t to_doc, std::initializer_list<std::int64_t> rec) {
    auto& box = out[owner(to_doc)];
    box.insert(box.end(), rec);
    ++messages_;
  }
  /// The rounds' records name the document they are for by its index in its owner's block, in
  /// the high half of their first word (bits 32-62: blocks hold fewer than 2^31 documents); `low`
  /// fills the rest of that word (32 bits of data, or a flag in bit 63), then come `more` words.
  /// An interior notice is then one word, where ids would take three.
  template <typename... More>
  void post_indexed(Boxes& out, std::int64_t to_doc, std::int64_t low, More... more) {
    const int r = owner(to_doc);
    auto& box = out[r];
    box.push_back((to_doc - first_of_[r]) << 32 | low);
    (box.push_back(more), ...);
    ++messages_;
  }
  static std::int64_t index_of(std::int64_t word) { return (word & ~kPartnerUpdate) >> 32; }
  static std::int64_t low_of(std::int64_t word) { return word & 0xffffffff; }

  /// The share of the graph's slots, over all ranks, whose neighbour is on the same rank.
  double local_slot_share() const {
    const std::int64_t all = comm_.sum(static_cast<std::int64_t>(g_.neighbor.size()));
    return all > 0 ? static_cast<double>(comm_.sum(g_.local_slots)) / static_cast<double>(all) : 1.0;
  }

  /// Before the rounds, each rank accepts on its own the edges between its documents that need no
  /// remote knowledge: taken in the global edge order, an edge is accepted when it is heavier than
  /// every remote edge at the ends of both fragments it joins (those are all local: fragments are
  /// built here). Otherwise both fragments are frozen for the rest of the pass, since a heavier
  /// remote edge may change them first. Each accepted edge is the heaviest eligible edge at every
  /// end of its fragments — exactly a sequential-greedy edge. On one rank this is the whole greedy.
  void local_pass() {
    const std::int64_t base = g_.range.begin;
    WEAVE_ASSERT(n_ < (std::int64_t{1} << 32), "greedy: more than 2^32 documents on one rank");
    std::vector<LocalEdge> local_edges;
    std::vector<Edge> heaviest_remote(static_cast<std::size_t>(n_));  // invalid = none
    for (std::int64_t i = 0; i < n_; ++i) {
      if (degree_[i] >= 2) continue;
      // One pass over the slots, heaviest first: the first eligible remote edge, and the local
      // edges to larger ids (equal weights then come in increasing neighbour order, as the edge
      // order wants after the stable sort).
      bool remote_seen = false;
      for (std::int64_t s = cursor_[i]; s < g_.offsets[i + 1]; ++s) {
        const std::int64_t w = g_.neighbor[s];
        if (!is_local(w)) {
          if (!remote_seen && eligible(i, s)) {
            heaviest_remote[i] = g_.edge(i, s);
            remote_seen = true;
          }
        } else if (base + i < w && eligible(i, s)) {
          local_edges.push_back({heaviness_of(g_.weight[s]), static_cast<std::uint32_t>(i),
                                 static_cast<std::uint32_t>(local(w))});
        }
      }
    }
    sort_heaviest_first(local_edges);
    std::vector<std::uint8_t> frozen(static_cast<std::size_t>(n_), 0);
    Boxes& outbox = outboxes();
    std::int64_t accepted = 0;
    for (const LocalEdge& compact : local_edges) {
      const std::int64_t u = compact.u, v = compact.v;
      const Edge e{weight_of_heaviness(compact.heaviness), base + u, base + v};
      if (degree_[u] >= 2 || degree_[v] >= 2 || partner_[u] == e.b) continue;  // never eligible again
      bool blocked = false;
      for (std::int64_t end : {e.a, partner_[u], e.b, partner_[v]}) {
        if (!is_local(end)) {
          blocked = true;  // a fragment reaching another rank (only after rounds): not ours to decide
          continue;
        }
        const std::int64_t x = local(end);
        blocked = blocked || frozen[x] || heavier(heaviest_remote[x], e);
      }
      if (blocked) {
        for (std::int64_t end : {e.a, partner_[u], e.b, partner_[v]})
          if (is_local(end)) frozen[local(end)] = 1;
        continue;
      }
      const std::int64_t pu = partner_[u], pv = partner_[v];
      accept(u, e.b, pv, outbox);
      accept(v, e.a, pu, outbox);
      // accept() gives each side's old partner the other side's old partner: consistent here too,
      // since both sides read the partners from before this edge.
      ++accepted;
    }
    // Remote neighbours of documents that became interior learn it now.
    tell_interior(outbox);
    apply_updates(exchange(outbox));
    stats_.accepted_locally = comm_.sum(accepted);
    stats_.accepted_total += stats_.accepted_locally;
    if (options_.progress)
      util::print_root(comm_, "[order] greedy: {} edges accepted rank-locally before the rounds\n", stats_.accepted_locally);
  }

  /// One round; returns (fragments with a candidate edge, edges accepted), both global. Inlined
  /// into run(): out of line (the compiler's choice once round() held both ways of taking the
  /// records), the 10^7 greedy took 9.6 s against 9.1-9.4 s inline.
  [[gnu::always_inline]] std::pair<std::int64_t, std::int64_t> round() {
    const std::int64_t self_base = g_.range.begin;
    // 1. Each end's best edge, then the fragment's best from both ends. Ends without an eligible
    // edge leave the active list for good (eligibility only ever shrinks).
    if (!active_built_) {
      for (std::int64_t i = 0; i < n_; ++i)
        if (degree_[i] < 2) active_.push_back(i);
      active_built_ = true;
    }
    // The ends' edges lead to random documents: the slot at an end's cursor is prefetched two
    // steps ahead, then its neighbour's interior bit one step ahead (at 10^7 documents the degree
    // check was a quarter of the greedy, one cache miss at a time). A step of 16 records: the 10^7
    // greedy ~2% faster than with 8 (six alternating pairs, every one), 1M alike.
    constexpr std::size_t kAhead = 16;
    const std::size_t active = active_.size();
    std::size_t kept = 0;
    for (std::size_t x = 0; x < active; ++x) {
      if (x + 2 * kAhead < active) {
        // Pointer arithmetic: a cursor may stand at the last document's end, one past the slots.
        const std::int64_t c = cursor_[active_[x + 2 * kAhead]];
        __builtin_prefetch(g_.neighbor.data() + c);
        __builtin_prefetch(g_.weight.data() + c);
        __builtin_prefetch(dead_.data() + c);
      }
      if (x + kAhead < active) {
        const std::int64_t j = active_[x + kAhead];
        if (cursor_[j] < g_.offsets[j + 1]) {
          const std::int64_t w = g_.neighbor[cursor_[j]];
          if (is_local(w)) __builtin_prefetch(&interior_[local(w) / 64]);
        }
      }
      const std::int64_t i = active_[x];
      best_[i] = degree_[i] < 2 ? best_edge(i) : Edge{};
      if (best_[i].valid())
        active_[kept++] = i;
      else
        fragment_best_[i] = Edge{};  // leaves for good: its fragment best says so from now on
    }
    active_.resize(kept);
    Boxes& out = outboxes();
    for (std::int64_t i : active_) {
      if (partner_[i] == self_base + i || is_local(partner_[i])) continue;
      const Edge& b = best_[i];
      post_indexed(out, partner_[i], bits(b.weight), b.a, b.b);
    }
    for (std::size_t x = 0; x < kept; ++x) {
      // Where windowed(), a random document's best edge is prefetched: 10^7 greedy 9.5-9.6 ->
      // 9.3 s.
      if (windowed() && x + kAhead < kept) {
        const std::int64_t ahead = partner_[active_[x + kAhead]];
        if (is_local(ahead)) __builtin_prefetch(&best_[local(ahead)]);
      }
      const std::int64_t i = active_[x];
      fragment_best_[i] = best_[i];
      if (partner_[i] != self_base + i && is_local(partner_[i])) {
        const Edge& other = best_[local(partner_[i])];
        if (heavier(other, fragment_best_[i])) fragment_best_[i] = other;
      }
    }
    // An end's fragment best is valid exactly while it is active (it has a best edge of its own),
    // so the records about random ends below read that one array, not best_ too (a cache miss
    // each at 10^7 documents).
    auto take_partner_best = [&](std::int64_t i, const Edge& other) {
      auto& fb = fragment_best_[i];
      if (!fb.valid()) return;  // an inactive end: nothing to propose or accept
      if (heavier(other, fb)) fb = other;
    };
    const Boxes& partner_bests = exchange(out);
    if (windowed()) {
      for (const PartnerBest& record : by_window(partner_bests_, [&](auto&& sink) {
             for (const auto& part : partner_bests)
               for (std::size_t x = 0; x + 2 < part.size(); x += 3)
                 sink(index_of(part[x]), PartnerBest{index_of(part[x]), Edge{weight_of(low_of(part[x])), part[x + 1], part[x + 2]}});
           }))
        take_partner_best(record.i, record.edge);
    } else {
      // In arrival order, each end's fragment best asked for kAhead records ahead (the ends are
      // random: stitching's level graphs, 158,000 ends a rank at 10^6 x 768 on 2 ranks, are below
      // windowed()'s size).
      for (const auto& part : partner_bests)
        for (std::size_t x = 0; x + 2 < part.size(); x += 3) {
          if (x + 3 * kAhead < part.size()) __builtin_prefetch(&fragment_best_[index_of(part[x + 3 * kAhead])]);
          take_partner_best(index_of(part[x]), Edge{weight_of(low_of(part[x])), part[x + 1], part[x + 2]});
        }
    }

    // 2. Proposals from the end incident to its fragment's best edge.
    std::int64_t candidates = 0;
    outboxes();
    for (std::int64_t i : active_) {
      const Edge& fb = fragment_best_[i];
      const std::int64_t doc = self_base + i;
      if (!fb.valid() || (fb.a != doc && fb.b != doc)) continue;
      ++candidates;  // counted once per fragment: only one end is incident to its best edge
      post_indexed(out, fb.other(doc), i, partner_[i]);  // from this end (its index), with its partner
    }

    // 3. Mutual proposals are accepted; 4. partner updates and interior notices.
    std::int64_t accepted = 0;
    Boxes& updates = update_boxes();
    auto take_proposal = [&](std::int64_t i, std::int64_t from, std::int64_t from_partner) {
      const std::int64_t y = self_base + i;
      const Edge& fb = fragment_best_[i];
      if (degree_[i] >= 2 || !fb.valid() || fb.other(y) != from || (fb.a != y && fb.b != y))
        return;
      accept(i, from, from_partner, updates);
      if (y < from) ++accepted;
    };
    const Boxes& proposals = exchange(out);
    if (windowed()) {
      const std::vector<Proposal>& grouped = by_window(proposals_, [&](auto&& sink) {
        for (int r = 0; r < comm_.size(); ++r)
          for (std::size_t x = 0; x + 1 < proposals[r].size(); x += 2) {
            const std::int64_t i = index_of(proposals[r][x]);
            sink(i, Proposal{i, first_of_[r] + low_of(proposals[r][x]), proposals[r][x + 1]});
          }
      });
      for (std::size_t x = 0; x < grouped.size(); ++x) {
        if (x + kAhead < grouped.size()) {
          const std::int64_t ahead = grouped[x + kAhead].i;
          __builtin_prefetch(&degree_[ahead]);
          __builtin_prefetch(&fragment_best_[ahead]);
          __builtin_prefetch(&partner_[ahead]);
          __builtin_prefetch(&links_[2 * ahead]);
        }
        take_proposal(grouped[x].i, grouped[x].from, grouped[x].from_partner);
      }
    } else {
      for (int r = 0; r < comm_.size(); ++r)
        for (std::size_t x = 0; x + 1 < proposals[r].size(); x += 2) {
          if (x + 2 * kAhead < proposals[r].size()) {
            const std::int64_t ahead = index_of(proposals[r][x + 2 * kAhead]);
            __builtin_prefetch(&degree_[ahead]);
            __builtin_prefetch(&fragment_best_[ahead]);
          }
          take_proposal(index_of(proposals[r][x]), first_of_[r] + low_of(proposals[r][x]), proposals[r][x + 1]);
        }
    }
    tell_interior(updates);
    apply_updates(exchange(updates));
    return {comm_.sum(candidates), comm_.sum(accepted)};
  }

  /// Step 4's records (post_indexed): a new partner, flagged kPartnerUpdate, then the partner's id;
  /// an interior notice, the interior document's index in the sender's block. A box holds its
  /// partner updates first (accept() posts them before tell_interior() runs).
  static constexpr std::int64_t kPartnerUpdate = std::numeric_limits<std::int64_t>::min();

  void apply_updates(const std::vector<std::vector<std::int64_t>>& received) {
    // Notices hit random documents: past the caches (10^7 documents) each costs a few memory
    // latencies, so the rows they need are prefetched two steps ahead (offsets 16 notices ahead,
    // then the slots 8 ahead, once their offset has arrived).
    constexpr std::size_t kFar = 16, kNear = 8;
    auto take_notice = [&](std::int64_t word, std::int64_t sender_first) {
      WEAVE_ASSERT(word >= 0, "greedy: a partner update after an interior notice");
      // The document will take no more edges (and needs no notice from us).
      const std::int64_t slot = g_.slot_of(index_of(word), sender_first + low_of(word));
      if (slot >= 0) dead_[slot] = kNeighborInterior;
    };
    // Each part: its partner updates (two words, the first flagged), applied here, then its
    // notices (one word each), from notices_at[r] on.
    std::vector<std::size_t> notices_at(received.size());
    for (std::size_t r = 0; r < received.size(); ++r) {
      const auto& part = received[r];
      std::size_t x = 0;
      for (; x < part.size() && part[x] < 0; x += 2) partner_[index_of(part[x])] = part[x + 1];
      notices_at[r] = x;
    }
    if (windowed()) {
      const std::vector<Notice>& grouped = by_window(notices_, [&](auto&& sink) {
        for (int r = 0; r < comm_.size(); ++r)
          for (std::size_t x = notices_at[r]; x < received[r].size(); ++x)
            sink(index_of(received[r][x]), Notice{received[r][x], first_of_[r]});
      });
      for (std::size_t x = 0; x < grouped.size(); ++x) {
        if (x + kFar < grouped.size()) __builtin_prefetch(&g_.offsets[index_of(grouped[x + kFar].word)]);
        if (x + kNear < grouped.size()) {
          const std::int64_t s = g_.offsets[index_of(grouped[x + kNear].word)];
          __builtin_prefetch(&g_.neighbor[s]);
          __builtin_prefetch(&dead_[s]);
        }
        take_notice(grouped[x].word, grouped[x].sender_first);
      }
      return;
    }
    for (int r = 0; r < comm_.size(); ++r) {
      const auto& part = received[r];
      for (std::size_t x = notices_at[r]; x < part.size(); ++x) {
        if (x + kFar < part.size()) __builtin_prefetch(&g_.offsets[index_of(part[x + kFar])]);
        if (x + kNear < part.size()) {
          const std::int64_t s = g_.offsets[index_of(part[x + kNear])];
          __builtin_prefetch(&g_.neighbor[s]);
          __builtin_prefetch(&dead_[s]);
        }
        take_notice(part[x], first_of_[r]);
      }
    }
  }

  /// Records received about owned documents, grouped by window (below).
  struct PartnerBest {  ///< the best edge of end i's partner
    std::int64_t i;
    Edge edge;
  };
  struct Proposal {  ///< to end i, from document `from`, whose partner is from_partner
    std::int64_t i, from, from_partner;
  };
  struct Notice {  ///< as received (the owned document's index, the sender's), the sender's first document
    std::int64_t word, sender_first;
  };
  /// Whether the rounds group their received records by window: where the per-document state
  /// (degree, partner, links, best edges, slots: ~90 bytes a document) outgrows the caches. In
  /// arrival order the records (partner bests, proposals, interior notices) name random owned
  /// documents, each a few cache and TLB misses at 10^7 documents; grouped, a window's state stays
  /// cached while its records are processed. Below options_.windowed_docs (2^18) documents a rank
  /// the copy is not paid back (it cost up to 16% of the greedy at 5 * 10^4).
  bool windowed() const { return n_ >= options_.windowed_docs; }
  /// The records visit(sink) gives (sink(i, record), i the owned document it is about), grouped by
  /// windows of 2^window_bits owned documents (2^14), windows ascending, arrival order within one:
  /// a counting sort on i's high bits, one pass into `out`. A full sort by document (two radix
  /// passes) cost more than it saved; windows of 2^8 to 2^18 documents measured alike; the whole
  /// round's records at once, since chunks of 2^20 records each grouped alone lost most of the
  /// gain. Only for records whose processing does not depend on their order: in a round a
  /// document takes at most one edge and one partner update, a partner's best edge is a maximum,
  /// and a notice only marks a slot dead.
  template <typename Record, typename Visit>
  const std::vector<Record>& by_window(std::vector<Record>& out, Visit&& visit) {
    const int bits = options_.window_bits;
    const std::size_t windows = static_cast<std::size_t>(n_ >> bits) + 1;
    window_start_.assign(windows + 1, 0);
    visit([&](std::int64_t i, const Record&) { ++window_start_[static_cast<std::size_t>(i >> bits) + 1]; });
    for (std::size_t w = 0; w < windows; ++w) window_start_[w + 1] += window_start_[w];
    out.resize(window_start_[windows]);
    visit([&](std::int64_t i, const Record& record) { out[window_start_[static_cast<std::size_t>(i >> bits)]++] = record; });
    return out;
  }

  static constexpr std::int64_t kPartner = 0, kLink = 2;  // the tail's records
  /// dead_ values: 0 live, 1 dead, kNeighborInterior dead because the neighbour is interior.
  static constexpr std::uint8_t kNeighborInterior = 2;

  /// Whether local document i has two path edges (its bit: the eligibility check of a random local
  /// neighbour reads an eighth of a megabyte a million documents, cached, instead of its degree).
  bool interior(std::int64_t i) const { return (interior_[i / 64] >> (i % 64)) & 1; }
  void became_interior(std::int64_t i) {
    interior_[i / 64] |= std::uint64_t{1} << (i % 64);
    became_interior_.push_back(i);
  }

  /// End i takes the edge to `from`, whose fragment's other end is from_partner.
  void accept(std::int64_t i, std::int64_t from, std::int64_t from_partner,
              std::vector<std::vector<std::int64_t>>& updates) {
    const std::int64_t doc = g_.range.begin + i;
    const std::int64_t my_partner = partner_[i];
    links_[2 * i + degree_[i]] = from;
    ++degree_[i];
    // The merged fragment's ends are my_partner and from_partner.
    if (my_partner == doc) {
      partner_[i] = from_partner;  // I was alone: still an end (degree 1)
    } else if (is_local(my_partner)) {
      partner_[local(my_partner)] = from_partner;  // nothing else in this round reads it
    } else {
      post_indexed(updates, my_partner, kPartnerUpdate, from_partner);
    }
    if (degree_[i] == 2) became_interior(i);
  }

  /// The documents that took their second path edge since the last call: local neighbours see
  /// their degree; remote ones are told, unless they are interior themselves or linked to the
  /// document (they hold the edge as taken already). Batched after the acceptances, because each
  /// document's slots are a few cache misses at a random place: they are prefetched ahead, as in
  /// apply_updates.
  void tell_interior(std::vector<std::vector<std::int64_t>>& updates) {
    if (comm_.size() == 1) {  // every neighbour sees the degree
      became_interior_.clear();
      return;
    }
    // A document's slots, links and dead marks are asked for ahead (the links too: without them,
    // a quarter of this loop at 10^7 documents waited on that one load).
    constexpr std::size_t kFar = 16, kNear = 8;
    const std::size_t count = became_interior_.size();
    for (std::size_t x = 0; x < count; ++x) {
      if (x + kFar < count) {
        __builtin_prefetch(&g_.offsets[became_interior_[x + kFar]]);
        __builtin_prefetch(&links_[2 * became_interior_[x + kFar]]);
      }
      if (x + kNear < count) {
        const std::int64_t s = g_.offsets[became_interior_[x + kNear]];
        __builtin_prefetch(&g_.neighbor[s]);
        __builtin_prefetch(&g_.neighbor[s] + 8);
        __builtin_prefetch(&g_.neighbor[s] + 16);
        __builtin_prefetch(&dead_[s]);
      }
      const std::int64_t i = became_interior_[x];
      const std::int64_t first = links_[2 * i], second = links_[2 * i + 1];
      for (std::int64_t s = g_.offsets[i]; s < g_.offsets[i + 1]; ++s) {
        const std::int64_t w = g_.neighbor[s];
        if (w != first && w != second && !is_local(w) && dead_[s] != kNeighborInterior)
          post_indexed(updates, w, i);
      }
    }
    became_interior_.clear();
  }

  /// One still-eligible slot of an owned document, in the tail.
  struct TailEntry {
    Edge edge;
    std::int64_t i, slot;
  };

  /// Finishes the contended tail in batches, each a prefix of the global edge order: every
  /// still-eligible edge at least as heavy as a threshold chosen so that the batch holds at most
  /// about `budget` slots in all. The batch's edges and the state of their ends go to one rank (batch
  /// b to rank b mod P), which runs the sequential greedy on them and sends back the accepted edges
  /// and the new partners; documents that became interior tell their neighbours, as in the rounds.
  /// Every edge of a batch is decided by it (accepted, or ineligible for good), so the batches are
  /// exactly the sequential greedy's passes over consecutive pieces of the order. What a rank is
  /// handed at once is bounded by the budget (by default the mean number of graph slots a rank
  /// holds), never by N.
  void finish_in_batches() {
    std::vector<TailEntry> entries;
    for (std::int64_t i = 0; i < n_; ++i) {
      if (degree_[i] >= 2) continue;
      const std::int64_t doc = g_.range.begin + i;
      for (std::int64_t s = cursor_[i]; s < g_.offsets[i + 1]; ++s)
        if (eligible(i, s)) entries.push_back({Edge::make(doc, g_.neighbor[s], g_.weight[s]), i, s});
    }
    std::sort(entries.begin(), entries.end(), [](const TailEntry& x, const TailEntry& y) { return heavier(x.edge, y.edge); });
    const int ranks = comm_.size();
    const std::int64_t slots_held = static_cast<std::int64_t>(g_.neighbor.size());
    const std::int64_t budget = options_.tail_batch_slots > 0
                                    ? options_.tail_batch_slots
                                    : std::max<std::int64_t>(64, (comm_.sum(slots_held) + ranks - 1) / ranks);
    // Thresholds at the scales q, 2q, 4q, ... slots per rank: the heaviest of the ranks' proposals
    // at a scale leaves at most that many slots on any rank; the largest scale whose global count
    // fits the budget is taken (so a batch is full also when the heavy edges sit on one rank).
    const std::int64_t per_rank = std::max<std::int64_t>(1, budget / ranks);
    const std::int64_t limit = std::max<std::int64_t>(budget, ranks);
    const int scales = 1 + static_cast<int>(std::bit_width(static_cast<std::uint64_t>(ranks - 1)));
    std::int64_t batch = 0, handed_most = 0;
    while (true) {
      std::erase_if(entries, [&](const TailEntry& e) { return degree_[e.i] >= 2 || !eligible(e.i, e.slot); });
      // This rank's proposal at each scale (invalid when it has no entry), and the heaviest over
      // ranks in the edge order: the largest weight, then the smallest a, then the smallest b.
      const auto size = static_cast<std::int64_t>(entries.size());
      std::vector<Edge> proposal(scales);
      for (int j = 0; j < scales && size > 0; ++j) proposal[j] = entries[std::min(size, per_rank << j) - 1].edge;
      std::vector<std::int64_t> heaviness(scales, -1), first(scales), second(scales);
      for (int j = 0; j < scales; ++j)
        if (proposal[j].valid()) heaviness[j] = heaviness_of(proposal[j].weight);
      comm_.allreduce_inplace(std::span(heaviness), mpi::ReduceOp::kMax);
      if (heaviness[0] < 0) break;  // no eligible edge left anywhere
      for (int j = 0; j < scales; ++j)
        first[j] = proposal[j].valid() && heaviness_of(proposal[j].weight) == heaviness[j] ? proposal[j].a : kNone;
      comm_.allreduce_inplace(std::span(first), mpi::ReduceOp::kMin);
      for (int j = 0; j < scales; ++j)
        second[j] = proposal[j].valid() && heaviness_of(proposal[j].weight) == heaviness[j] && proposal[j].a == first[j]
                        ? proposal[j].b
                        : kNone;
      comm_.allreduce_inplace(std::span(second), mpi::ReduceOp::kMin);
      auto count_within = [&](int j) {  // entries at least as heavy as threshold j (a prefix)
        const Edge threshold{weight_of_heaviness(static_cast<std::uint32_t>(heaviness[j])), first[j], second[j]};
        return static_cast<std::int64_t>(std::partition_point(entries.begin(), entries.end(),
                                                              [&](const TailEntry& e) { return !heavier(threshold, e.edge); }) -
                                         entries.begin());
      };
      std::vector<std::int64_t> counts(scales);
      for (int j = 0; j < scales; ++j) counts[j] = heaviness[j] < 0 ? limit + 1 : count_within(j);
      std::vector<std::int64_t> global_counts = counts;
      comm_.sum_inplace(std::span(global_counts));
      int chosen = 0;  // scale 0 always fits: no rank has more than per_rank slots above it
      for (int j = 1; j < scales; ++j)
        if (heaviness[j] >= 0 && global_counts[j] <= limit) chosen = j;
      const std::int64_t taken = counts[chosen];

      // The batch: edges from the end with the smaller id, the state of every end involved.
      std::vector<std::int64_t> edges, ends, involved;
      for (std::int64_t x = 0; x < taken; ++x) {
        const TailEntry& e = entries[x];
        if (e.edge.a == g_.range.begin + e.i) edges.insert(edges.end(), {bits(e.edge.weight), e.edge.a, e.edge.b});
        involved.push_back(e.i);
      }
      std::sort(involved.begin(), involved.end());
      involved.erase(std::unique(involved.begin(), involved.end()), involved.end());
      for (std::int64_t i : involved) ends.insert(ends.end(), {g_.range.begin + i, partner_[i], degree_[i]});
      entries.erase(entries.begin(), entries.begin() + taken);
      const int solver = static_cast<int>(batch % ranks);
      const auto batch_edges = comm_.gatherv<std::int64_t>(edges, solver);
      const auto batch_ends = comm_.gatherv<std::int64_t>(ends, solver);
      messages_ += static_cast<std::int64_t>(edges.size() / 3 + ends.size() / 3);
      Boxes& out = outboxes();
      if (comm_.rank() == solver) {
        std::vector<Edge> e;
        for (std::size_t x = 0; x + 2 < batch_edges.size(); x += 3)
          e.push_back({weight_of(batch_edges[x]), batch_edges[x + 1], batch_edges[x + 2]});
        handed_most = std::max(handed_most, static_cast<std::int64_t>(e.size()));
        std::vector<FragmentEnd> f;
        for (std::size_t x = 0; x + 2 < batch_ends.size(); x += 3) f.push_back({batch_ends[x], batch_ends[x + 1], batch_ends[x + 2]});
        const SequentialResult result = sequential_greedy(std::move(e), f);
        for (const Edge& a : result.accepted) {
          post(out, a.a, {kLink, a.a, a.b});
          post(out, a.b, {kLink, a.b, a.a});
        }
        stats_.tail_accepted += static_cast<std::int64_t>(result.accepted.size());
        for (const auto& [end, partner] : result.new_partners) post(out, end, {kPartner, end, partner});
      }
      Boxes& notices = update_boxes();
      for (const auto& part : exchange(out))
        for (std::size_t x = 0; x + 2 < part.size(); x += 3) {
          const std::int64_t i = local(part[x + 1]), value = part[x + 2];
          if (part[x] == kPartner) {
            partner_[i] = value;
            continue;
          }
          WEAVE_ASSERT(degree_[i] < 2, "tail: a document got a third path edge");
          links_[2 * i + degree_[i]++] = value;
          if (degree_[i] == 2) became_interior(i);
        }
      tell_interior(notices);
      apply_updates(exchange(notices));
      const std::int64_t batch_size = comm_.sum(static_cast<std::int64_t>(edges.size() / 3));
      stats_.tail_edges_in += batch_size;
      stats_.tail_largest_batch = std::max(stats_.tail_largest_batch, batch_size);
      ++batch;
      if (options_.progress && (util::wall_seconds() - last_print_ > 2.0 || batch == 1)) {
        last_print_ = util::wall_seconds();
        util::print_root(comm_, "[order] greedy tail batch {}: {} edges decided on rank {}\n", batch, batch_size, solver);
      }
    }
    stats_.tail_batches = batch;
    stats_.tail_accepted = comm_.sum(stats_.tail_accepted);
    stats_.accepted_total += stats_.tail_accepted;
    if (options_.progress && batch > 0)
      util::print_root(comm_, "[order] greedy: the last {} competing edges decided in {} batches\n", stats_.tail_edges_in,
                       batch);
    handed_ = handed_most;
  }

  static constexpr std::int64_t kNone = std::numeric_limits<std::int64_t>::max();

  const mpi::Comm& comm_;
  const LocalGraph& g_;
  GreedyOptions options_;
  std::int64_t n_;
  // Per document and per slot, visited at random by the messages: huge-page backed.
  util::LargeVector<std::int8_t> degree_;
  std::vector<std::uint64_t> interior_;  ///< bit i: degree_[i] == 2
  util::LargeVector<std::int64_t> partner_;
  util::LargeVector<std::int64_t> cursor_;
  util::LargeVector<std::uint8_t> dead_;
  util::LargeVector<std::int64_t> links_;
  util::LargeVector<Edge> best_, fragment_best_;
  std::vector<std::int64_t> first_of_;  ///< the first document of each rank
  std::vector<std::int64_t> active_;  ///< ends that still have an eligible edge
  Boxes send_, updates_, received_;   ///< the rounds' message buffers, reused
  bool active_built_ = false;
  std::vector<std::int64_t> became_interior_;  ///< since the last tell_interior
  // Records received, by window (by_window), reused from round to round.
  std::vector<PartnerBest> partner_bests_;
  std::vector<Proposal> proposals_;
  std::vector<Notice> notices_;
  std::vector<std::size_t> window_start_;
  std::int64_t messages_ = 0;
  double last_print_ = 0;
  std::int64_t handed_ = 0;  ///< the most tail edges this rank was handed at once
  GreedyStats stats_;
};

}  // namespace

PathCover greedy_path_cover(const mpi::Comm& comm, const LocalGraph& graph, const GreedyOptions& options,
                            const InitialPaths& initial) {
  return Greedy(comm, graph, options, initial).run();
}

}  // namespace weave::order
