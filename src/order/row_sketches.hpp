// Int8 sketches of embedding rows, to rank stitching's candidate links with a quarter of the bytes.
//
// Scoring a candidate link needs both rows in one place, and with P ranks all but 1/P of the pairs
// have a remote end: at 2M x 768 on 16 ranks the first level moved 7.5 GB of rows to score 3.1M
// candidates, most of the stitching's time. A row's sketch is its values as int8 codes (x · 127 / max|x|,
// rounded half away from zero) and the scale max|x| / 127: d + 4 bytes instead of 4d. The sketch similarity of two rows, the codes'
// dot product (exact in integers) times both scales, is within ~1e-3 of the similarity for unit rows
// of any dimension, deterministic, and the same from either end: the levels join along it, and only
// the links they make get their canonical similarity (order/stitch.cpp).
#pragma once

#include <cstdint>
#include <vector>

#include "corpus/row_reader.hpp"

namespace weave::order {

class RowSketches {
 public:
  /// The sketches of every row `rows` holds.
  explicit RowSketches(const corpus::SomeRows& rows);

  std::int64_t dim() const { return dim_; }
  /// Bytes of one sketch: dim() codes, then the scale as a float's 4 bytes (what travels).
  std::int64_t record_bytes() const { return dim_ + 4; }
  /// The sketch of a held document. Throws InternalError for a document not held.
  const std::int8_t* record(std::int64_t doc) const;

 private:
  const corpus::SomeRows& rows_;
  std::int64_t dim_ = 0;
  std::vector<std::int8_t> records_;  ///< rows_.docs().size() x record_bytes(), in rows_'s order
};

/// The sketch similarity of two sketches of dimension d (symmetric, the same bits on any rank).
float sketch_similarity(const std::int8_t* a, const std::int8_t* b, std::int64_t d);

}  // namespace weave::order
