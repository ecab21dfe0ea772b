// The undirected kNN graph, distributed like the documents: rank r holds, for each document it
// owns, every incident edge, sorted heaviest first. Built from the kNN lists by sending each
// directed edge u->v to v's owner too (in rounds of bounded size); an edge listed in both
// directions gets the larger weight. Memory O((N/P) k) on average (a document can be the neighbour
// of many others: hubs cost more): 20 bytes a slot, 12 a directed edge while building.
#pragma once

#include <cstdint>
#include <vector>

#include "knn/exact_ring.hpp"
#include "mpi/comm.hpp"
#include "order/edge.hpp"
#include "util/large_buffer.hpp"
#include "weave/ids.hpp"

namespace weave::order {

struct LocalGraph {
  std::int64_t num_docs = 0;            ///< N
  int ranks = 1;                        ///< P
  BlockRange range;                     ///< documents owned here
  /// Where each rank's ids start (P + 1 values) when they are not block_range()'s blocks (the
  /// stitching's dense numbering of path ends); empty = block_range().
  std::vector<std::int64_t> owner_offsets;
  // Visited at random by the greedy's messages: huge-page backed (util/large_buffer.hpp).
  util::LargeVector<std::int64_t> offsets;   ///< range.size() + 1
  util::LargeVector<std::int64_t> neighbor;  ///< global ids, per document heaviest edge first
  util::LargeVector<float> weight;
  std::int64_t local_slots = 0;         ///< slots whose neighbour is owned here too
  /// slot_of() scans a document's slots up to this many; the documents with more ("hubs", listed
  /// by many others) have their slots sorted by neighbour id for a binary search: hubs (local
  /// indices, increasing), their slots in hub_slots[hub_offsets[h] .. hub_offsets[h + 1]).
  static constexpr std::int64_t kScanSlots = 64;
  std::vector<std::int64_t> hubs, hub_offsets, hub_slots;

  BlockOwners block_owners;             ///< block_owner() of (num_docs, ranks)

  /// The rank that owns a document.
  int owner(std::int64_t doc) const {
    if (owner_offsets.empty()) return block_owners(GlobalId(doc));
    return owner_by_offsets(doc);
  }

  /// The slot of the edge (local, neighbour), or -1.
  std::int64_t slot_of(std::int64_t local, std::int64_t other) const;

  /// Inline: the greedy and the level graphs' builds ask it for every record (at 10^6 x 768 on 2
  /// ranks a call out of line was 2% of the first stitching level's scoring and join).
  int owner_by_offsets(std::int64_t doc) const { return offsets_owner(owner_offsets, doc); }

  /// The first id each rank owns (P values).
  std::vector<std::int64_t> rank_starts() const {
    return owner_offsets.empty() ? block_starts(num_docs, ranks)
                                 : std::vector<std::int64_t>(owner_offsets.begin(), owner_offsets.end() - 1);
  }

  std::int64_t degree(std::int64_t local) const { return offsets[local + 1] - offsets[local]; }
  Edge edge(std::int64_t local, std::int64_t slot) const {
    return Edge::make(range.begin + local, neighbor[slot], weight[slot]);
  }
};

/// Collective. lists holds rows [range) of the kNN lists (ids -1 are skipped).
LocalGraph build_knn_graph(const mpi::Comm& comm, std::int64_t num_docs, BlockRange range, const knn::KnnLists& lists);

/// An undirected edge given by one of the ranks (either end may be owned anywhere).
struct WeightedPair {
  std::int64_t u, v;
  float weight;
};

/// Collective. The graph of the pairs given by all ranks (each pair may be given more than once:
/// the largest weight is kept). Ids must be valid and u != v. owner_offsets: see LocalGraph (range
/// must then be [offsets[rank], offsets[rank + 1])). In rounds of bounded size, which above one
/// round count each document's edges first and so send every record twice; build_graph_of
/// (order/graph_from_pairs.hpp) takes pairs in the caller's own format, and in one round where
/// asked (stitching's candidates, few against the memory it holds anyway).
LocalGraph build_graph_from_pairs(const mpi::Comm& comm, std::int64_t num_docs, BlockRange range,
                                  const std::vector<WeightedPair>& pairs,
                                  std::vector<std::int64_t> owner_offsets = {});

/// Pairs each rank hands to one round of the building's exchanges (default 2^19; tests lower it to
/// exercise the rounds).
void set_graph_pairs_per_round(std::int64_t pairs);

}  // namespace weave::order
