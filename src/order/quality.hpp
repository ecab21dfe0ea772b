// Quality figures of a document order (printed, stored in order.h5, reported): mean similarity of
// adjacent documents, share of adjacent pairs that are kNN edges, the path-cover upper bound
// 1/2 sum_v (w1(v) + w2(v)) and the ratio to it, topic purity of adjacent pairs, and the same
// figures over all pairs of distinct documents (what a random order gives in expectation), exactly.
#pragma once

#include <cstdint>
#include <vector>

#include <nlohmann/json.hpp>

#include "corpus/row_reader.hpp"
#include "knn/row_sum.hpp"
#include "order/knn_graph.hpp"
#include "order/stitch.hpp"

namespace weave::order {

struct OrderQuality {
  /// For the positions owned here; NaN at position 0. A link along a kNN edge takes the edge's
  /// weight (the canonical similarity, as knn.h5 defines it): only other links fetch rows.
  std::vector<float> link_similarity;
  nlohmann::json figures;              ///< the same on every rank
};

/// Collective. order_block: documents at positions block_range(N, P, rank). A link that is no kNN
/// edge takes its similarity from `stitched` (the records of the documents owned here, sorted) or,
/// failing that (ICLM's restarts), from the rows, read by `rows`; the figures
/// over all pairs take the corpus's row sum from `row_sum` (knn.h5's), or, when it is null, from
/// every row read in bounded rounds (none kept).
OrderQuality measure_order(const mpi::Comm& comm, const corpus::CorpusBlock& corpus, corpus::RowReader& rows,
                           const std::vector<StitchedLink>& stitched, const knn::RowSum* row_sum,
                           const LocalGraph& graph,
                           const std::vector<std::int64_t>& order_block);

}  // namespace weave::order
