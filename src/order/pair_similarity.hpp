// The similarity of candidate pairs of which this rank owns at least one document: the other rows
// are fetched from their owners in rounds of at most `batch_rows` distinct rows
// (corpus/row_rounds.hpp), so memory stays O(batch_rows * d) however many pairs a rank holds.
#pragma once

#include <cstdint>
#include <vector>

#include "corpus/row_reader.hpp"
#include "order/meeting_points.hpp"

namespace weave::order {

/// Collective. pairs[j].a or pairs[j].b must be owned here, and every owned end among `rows`. Returns one similarity per pair, a
/// float32 dot product of the unit rows in a fixed order (fast_similarity): the same bits at any
/// rank count. *rows_fetched counts the remote rows.
/// Sixteen float32 partial sums, added in order: vectorised, several times faster than the canonical
/// float64 similarity (knn/topk.hpp) and within a few float32 units of it.
float fast_similarity(const float* a, const float* b, std::int64_t d);

std::vector<float> score_pairs(const mpi::Comm& comm, std::int64_t num_docs, const corpus::SomeRows& rows,
                               const std::vector<EndPair>& pairs, std::int64_t batch_rows,
                               std::int64_t* rows_fetched = nullptr);

}  // namespace weave::order
