// Semantic deduplication on the kNN graph: documents joined by kNN edges of similarity >= a
// threshold form groups (connected components, so chains of near-duplicates are caught); one
// document per group is kept, by a documented rule, the others are removed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "knn/backend.hpp"
#include "mpi/comm.hpp"
#include "weave/ids.hpp"

namespace weave::dedup {

/// Which document of a group is kept.
enum class KeepRule {
  kLongest,  ///< the most tokens; ties by the lowest global id
  kFirst,    ///< the lowest global id
};
KeepRule parse_keep_rule(const std::string& name);  ///< "longest" or "first"; throws UserError

struct DuplicateGroups {
  // Per document of this rank's block:
  std::vector<std::int64_t> representative;  ///< the kept document of its group (itself when kept)
  std::vector<std::int64_t> group_size;      ///< documents in its group (1: no near-duplicate)
  // The same on every rank:
  std::int64_t edges = 0;              ///< undirected kNN edges at or above the threshold
  std::int64_t groups = 0;             ///< groups of two or more documents
  std::int64_t removed_documents = 0;
  std::int64_t removed_tokens = 0;
  int iterations = 0;                  ///< of the connected components
  double graph_seconds = 0;            ///< building the graph of the edges at the threshold (max over ranks)
  double component_seconds = 0;        ///< the connected components (max over ranks)
  /// groups by size: {"2": n, "3-4": n, "5-8": n, ...} (power-of-two buckets, empty ones left out)
  nlohmann::json size_histogram;
  /// the largest groups (size desc, then smallest id): size, representative, first members (ids asc)
  nlohmann::json largest;
};

/// Collective. lists: rows [range) of the kNN lists; lengths: tokens of the documents of range.
/// Keeps `largest_groups` groups and `members_shown` members each in `largest`.
DuplicateGroups find_duplicate_groups(const mpi::Comm& comm, std::int64_t num_docs, BlockRange range,
                                      const knn::KnnLists& lists, const std::vector<std::int64_t>& lengths,
                                      double threshold, KeepRule keep, int largest_groups = 10,
                                      int members_shown = 5);

}  // namespace weave::dedup
