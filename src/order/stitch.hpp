// Stitching: the paths the greedy leaves are joined end to end into one path, preferring similar
// ends (docs/algorithms.md, "Stitching"). Each level finds candidate links between the ends of
// different paths, scores them exactly and lets the same distributed greedy join paths along them:
//  - `graph`: ends meet at the documents they are most similar to in the kNN graph (what Weave
//    already knows: no search), paired by windows at each meeting point;
//  - `projection`: when the graph has nothing left to offer, ends meet in the buckets of random
//    hyperplanes (an approximate search among the ends, O(E) work);
//  - `exact`: once few ends remain (E^2 d below a budget linear in N), the exact kNN among them.
// A level that joins few paths moves on to the next kind (or wider meeting sets), so duplicates
// and disconnected graphs cannot stall it; the result is identical for any rank count.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "corpus/row_reader.hpp"
#include "order/greedy.hpp"

namespace weave::util {
class Report;
}

namespace weave::order {

struct StitchLevel {
  std::string method;               ///< graph, projection or exact
  int reach = 0;                    ///< graph: meeting points per end; projection: hyperplanes; exact: k
  std::int64_t paths = 0;           ///< paths before the level
  std::int64_t ends = 0;            ///< path ends before the level
  std::int64_t candidates = 0;      ///< distinct candidate links scored
  std::int64_t sketches_fetched = 0;  ///< remote sketches fetched to estimate them (summed over ranks)
  std::int64_t rows_fetched = 0;      ///< remote rows fetched to score the links made exactly (summed)
  std::int64_t largest_meeting = 0; ///< most ends at one meeting point (graph, projection)
  std::int64_t accepted = 0;        ///< links added
  double seconds = 0;                ///< all of the level, with read_seconds
  double read_seconds = 0;          ///< reading the ends' rows and making their sketches (the first level that needs them)
  double candidate_seconds = 0;     ///< finding the candidates (meetings, or the exact search)
  double score_seconds = 0;         ///< scoring them by sketches, then the links made exactly (graph, projection)
  double join_seconds = 0;          ///< the greedy along them
};

/// A link stitching made, seen from one of its documents (`doc`, owned by the rank that holds the
/// record; the other document's owner holds the mirror record), with its canonical similarity: the
/// order file's link similarity, so no row is looked at again.
struct StitchedLink {
  std::int64_t doc = -1;
  std::int64_t other = -1;
  float similarity = 0;
};

struct StitchStats {
  std::vector<StitchLevel> levels;
  std::int64_t edges = 0;  ///< links added in all
};

/// Collective. links (2 per owned document) and partner (the other end of each path end's path,
/// as greedy_path_cover returns it) are extended in place until the links form one path.
/// graph: the kNN graph (meeting points); rows: reads the path ends' rows (scores of candidate links).
/// exact_ends: the most ends an exact level takes (0 = automatic, max(2048, sqrt(8 N stitch_k))).
/// stitched (if given) receives the links made, one record per owned document of each, sorted by
/// (doc, other). The path ends' rows are read once, when stitching starts, and freed when it ends.
StitchStats stitch_paths(const mpi::Comm& comm, const corpus::CorpusBlock& corpus, corpus::RowReader& rows,
                         const LocalGraph& graph, std::vector<std::int64_t>& links, std::vector<std::int64_t>& partner,
                         int stitch_k, std::int64_t exact_ends, const GreedyOptions& options, util::Report& report,
                         std::vector<StitchedLink>* stitched = nullptr);

}  // namespace weave::order
