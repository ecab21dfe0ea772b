// Stitching: the paths the greedy leaves are joined end to end into one path, preferring similar
// ends: the exact kNN among the path ends (a much smaller corpus) gives candidate edges, and the
// same greedy joins paths along them; repeated until one path remains (docs/algorithms.md).
#pragma once

#include <cstdint>
#include <vector>

#include "corpus/corpus.hpp"
#include "order/greedy.hpp"

namespace weave::util {
class Report;
}

namespace weave::order {

struct StitchStats {
  int levels = 0;
  std::vector<std::int64_t> paths_per_level;  ///< paths before each level
  std::int64_t edges = 0;                     ///< links added
};

/// Collective. links (2 per owned document) are extended in place until they form one path.
/// Cost per level: an exact kNN among the E path ends, O(E^2 d / P).
StitchStats stitch_paths(const mpi::Comm& comm, const corpus::CorpusBlock& corpus, std::vector<std::int64_t>& links,
                         int stitch_k, const GreedyOptions& options, util::Report& report);

}  // namespace weave::order
