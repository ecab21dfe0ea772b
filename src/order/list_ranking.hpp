// Positions along paths, by pointer doubling (O(log L) rounds for paths of length L): every
// document learns, in each of its two directions, which path end it reaches and in how many hops.
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
std::vector<PathPosition> rank_paths(const mpi::Comm& comm, std::int64_t num_docs, BlockRange range,
                                     const std::vector<std::int64_t>& links);

}  // namespace weave::order
