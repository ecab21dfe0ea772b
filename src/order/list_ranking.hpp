// Positions along paths, by a sparse ruling set (list_ranking.cpp): walks between rulers sampled
// every ~16-64 documents (the spacing), then pointer doubling over the rulers only. O(N/P) records
// moved per rank, O(spacing log N) walk rounds plus O(log N) doubling rounds.
#pragma once

#include <cstdint>
#include <vector>

#include "mpi/comm.hpp"
#include "weave/ids.hpp"

namespace weave::order {

struct PathPosition {
  std::int64_t start = -1;        ///< the path's first document: the end with the smaller id
  std::int64_t other_end = -1;    ///< the path's last document (= start for a single document)
  std::int64_t position = 0;      ///< hops from start
  std::int64_t length = 1;        ///< documents on the path
  std::int64_t predecessor = -1;  ///< the document before this one (toward start), -1 at the start
};

/// Collective. links: per owned document (range), its two path neighbours (-1 = none); the links
/// must form simple paths (symmetric, acyclic). Returns one PathPosition per owned document.
/// ruler_spacing: about one interior document in this many is a ruler (0: chosen from the documents
/// per rank); the positions are the same for any spacing.
std::vector<PathPosition> rank_paths(const mpi::Comm& comm, std::int64_t num_docs, BlockRange range,
                                     const std::vector<std::int64_t>& links, std::uint64_t ruler_spacing = 0);

}  // namespace weave::order
