// The similarity of candidate pairs of which this rank owns at least one document: the other rows
// are fetched from their owners in rounds of at most `batch_rows` distinct rows
// (corpus/row_rounds.hpp), so memory stays O(batch_rows * d) however many pairs a rank holds.
#pragma once

#include <cstdint>
#include <vector>

#include "corpus/row_reader.hpp"
#include "order/meeting_points.hpp"
#include "order/row_sketches.hpp"
#include "weave/ids.hpp"

namespace weave::order {

/// Collective. pairs[j].a < pairs[j].b, one of them owned here, and every owned end among `rows`.
/// Returns one similarity per pair, the canonical one (knn/topk.hpp, as knn.h5's weights): the
/// links stitching makes carry it into the order file without another look at the rows.
/// *rows_fetched counts the remote rows.
std::vector<float> score_pairs(const mpi::Comm& comm, std::int64_t num_docs, const corpus::SomeRows& rows,
                               const std::vector<EndPair>& pairs, std::int64_t batch_rows,
                               std::int64_t* rows_fetched = nullptr);

/// Path ends numbered densely by rank (a stitching level's numbering): rank r numbers its ends
/// [offsets[r], offsets[r + 1]), in id order.
struct NumberedEnds {
  std::vector<std::int64_t> offsets;   ///< P + 1
  std::vector<std::int32_t> position;  ///< per end numbered here: its row's place among the sketched rows
  int owner(std::int64_t number) const { return offsets_owner(offsets, number); }
};

/// Collective. The sketch similarities (order/row_sketches.hpp) of pairs of numbered ends, one of
/// them numbered here: the remote ends' sketches travel instead of their rows (about d + 4 bytes
/// instead of 4d), batch_rows of them a round.
std::vector<float> estimate_pairs(const mpi::Comm& comm, const NumberedEnds& ends, const RowSketches& sketches,
                                  const std::vector<EndPair>& pairs, std::int64_t batch_rows,
                                  std::int64_t* rows_fetched = nullptr);

}  // namespace weave::order
