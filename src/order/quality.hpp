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

namespace weave::order {

struct OrderQuality {
  /// For the positions owned here; NaN at position 0. A link along a kNN edge takes the edge's
  /// weight (the canonical similarity, as knn.h5 defines it): only other links fetch rows.
  std::vector<float> link_similarity;
  nlohmann::json figures;              ///< the same on every rank
};

/// Collective. order_block: documents at positions block_range(N, P, rank). The rows of the links
/// that are no kNN edges come from `held` (stitching's end rows) or are read by `rows`; the figures
/// over all pairs take the corpus's row sum from `row_sum` (knn.h5's), or, when it is null, from
/// every row read in bounded rounds (none kept).
OrderQuality measure_order(const mpi::Comm& comm, const corpus::CorpusBlock& corpus, corpus::RowReader& rows,
                           const corpus::SomeRows& held, const knn::RowSum* row_sum, const LocalGraph& graph,
                           const std::vector<std::int64_t>& order_block);

}  // namespace weave::order
