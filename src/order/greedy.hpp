// The greedy maximum-weight path cover, distributed (docs/algorithms.md): rounds of
// fragment-level mutual best edges, then the contended tail finished sequentially in batches of
// bounded size. Accepts exactly the edges the sequential greedy accepts, whatever the rank count.
#pragma once

#include <cstdint>
#include <vector>

#include "order/knn_graph.hpp"

namespace weave::order {

struct GreedyOptions {
  /// Finish the tail sequentially, in batches, when a round accepts fewer edges than this share of
  /// the fragments that still have an eligible edge (the rounds have stopped paying for their
  /// messages) ...
  double tail_fraction = 0.01;
  /// ... or after this many rounds.
  int max_rounds = 200;
  /// Print a progress line per round (rate-limited) on rank 0.
  bool progress = false;
  /// Graph slots (an edge counts at both ends) per tail batch; 0 = the mean a rank holds, so no rank
  /// is handed more than it already holds. Tests set it small to exercise many batches.
  std::int64_t tail_batch_slots = 0;
  /// Run the rank-local pass before the rounds when at least this share of all graph slots join two
  /// documents of one rank (0 = always, above 1 = never; on one rank it always runs: it is the whole
  /// greedy). It accepts an edge only when no remote edge at its fragments' ends is heavier, so it
  /// pays when most heavy edges are local (a corpus stored by source) and costs more than it saves
  /// when they are spread (measured in docs/benchmarks.md: at a share of 1/2 it took 0.2 s to accept
  /// 10% of the edges and saved no round).
  double local_pass_share = 0.75;
  /// From this many documents on a rank, each round groups the records it receives by windows of
  /// 2^window_bits owned documents before processing them (their state then stays cached; below,
  /// in arrival order: the copy would cost more than it saves). Tests force small windows.
  std::int64_t windowed_docs = std::int64_t{1} << 18;
  int window_bits = 14;
};

struct GreedyStats {
  int rounds = 0;
  double local_slot_share = 1;        ///< share of the graph's slots whose two documents share a rank
  bool local_pass = true;             ///< whether the rank-local pass ran (local_pass_share)
  std::int64_t accepted_locally = 0;  ///< edges accepted by the ranks on their own before the rounds
  std::vector<std::int64_t> accepted_per_round;
  std::int64_t tail_edges_in = 0;       ///< eligible edges decided in the tail's batches
  std::int64_t tail_accepted = 0;       ///< edges accepted from them
  std::int64_t tail_batches = 0;
  std::int64_t tail_largest_batch = 0;  ///< the most edges one rank was handed at once
  std::int64_t messages = 0;            ///< point-to-point records sent, summed over ranks
  std::int64_t accepted_total = 0;
  /// Per rank, the graph slots it holds plus the most tail edges it was handed at once: the largest
  /// over ranks and the mean (the bound of docs/algorithms.md: no rank above twice the mean).
  std::int64_t peak_edges_max = 0;
  double peak_edges_mean = 0;
};

struct PathCover {
  /// Per owned document, its (up to two) neighbours on its path; -1 = none.
  util::LargeVector<std::int64_t> links;  ///< range.size() x 2
  /// Per owned document that is still a path end (fewer than two path neighbours in all, initial
  /// paths included), the other end of its path (itself when alone); unspecified for the others.
  util::LargeVector<std::int64_t> partner;
  GreedyStats stats;
};

/// Where the greedy starts: per owned document its degree (edges already on its path) and, for
/// path ends, the other end of its path. Empty = every document alone.
struct InitialPaths {
  util::LargeVector<std::int8_t> degree;
  util::LargeVector<std::int64_t> partner;
};

/// Collective. Returns the edges accepted now (links of documents that had degree d start at
/// slot d; earlier slots are -1).
PathCover greedy_path_cover(const mpi::Comm& comm, const LocalGraph& graph, const GreedyOptions& options = {},
                            const InitialPaths& initial = {});

/// Sequential greedy on an explicit edge list, starting from given fragments: the tail's solver.
/// Every end of an edge must be among `ends` (a document on an edge has degree < 2).
/// ends[i] = (document, the other end of its fragment, degree). Returns the accepted edges and,
/// for every end of a fragment that an accepted edge changed and that is still an end, its new
/// partner (documents known only as a partner are ends of degree 1, or 0 when alone).
struct FragmentEnd {
  std::int64_t doc, partner, degree;
};
struct SequentialResult {
  std::vector<Edge> accepted;
  std::vector<std::pair<std::int64_t, std::int64_t>> new_partners;  ///< (end, its new partner)
};
SequentialResult sequential_greedy(std::vector<Edge> edges, const std::vector<FragmentEnd>& ends);

}  // namespace weave::order
