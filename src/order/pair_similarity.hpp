// The canonical similarity of candidate pairs whose first document is owned here: the rows of the
// second documents are fetched from their owners in batches of at most `batch_rows` distinct rows,
// so memory stays O(batch_rows * d) however many pairs a rank holds.
#pragma once

#include <cstdint>
#include <vector>

#include "corpus/corpus.hpp"
#include "order/meeting_points.hpp"

namespace weave::order {

/// Collective. pairs[j].a must be owned here. Returns one similarity per pair (knn/topk.hpp's
/// canonical similarity: the same bits at any rank count). *rows_fetched counts the remote rows.
std::vector<float> score_pairs(const mpi::Comm& comm, const corpus::CorpusBlock& corpus,
                               const std::vector<EndPair>& pairs, std::int64_t batch_rows,
                               std::int64_t* rows_fetched = nullptr);

}  // namespace weave::order
