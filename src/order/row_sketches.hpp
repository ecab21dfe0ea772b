// 4-bit sketches of embedding rows, to rank stitching's candidate links with an eighth of the bytes.
//
// Scoring a candidate link needs both rows in one place, and with P ranks all but 1/P of the pairs
// have a remote end: at 2M x 768 on 16 ranks the first level moved 7.5 GB of rows to score 3.1M
// candidates, most of the stitching's time. A row's sketch is its values as 4-bit codes
// (x · 7 / max|x|, rounded half away from zero, two a byte) and the scale max|x| / 7: about d / 2 + 4
// bytes instead of 4d. The sketch similarity of two rows, the codes' dot product (exact in integers)
// times both scales, is deterministic and the same from either end: the levels join along it, and
// only the links they make get their canonical similarity (order/stitch.cpp). It only ranks
// candidates: int8 codes (x · 127 / max|x|, within ~1e-3 of the similarity) gave mean adjacent
// similarities 0.005-0.05% higher on the four graphs of docs/benchmarks.md (session 44), and read
// twice the bytes, which at d = 768 is what scoring costs.
#pragma once

#include <cstdint>
#include <vector>

#include "corpus/row_reader.hpp"
#include "util/uninit_vector.hpp"

namespace weave::order {

class RowSketches {
 public:
  /// The sketches of every row `rows` holds.
  explicit RowSketches(const corpus::SomeRows& rows);
  /// Room for the sketches of `rows` rows of dimension `dim`, made by add() as the rows are read
  /// (corpus::RowReader::read's `ready`: each row while it is in cache), then bind() to the rows.
  RowSketches(std::int64_t dim, std::size_t rows);
  /// Sketches rows [first, first + count) of the rows' order (rows: count x dim() values).
  void add(std::size_t first, std::size_t count, const float* rows);
  /// The rows the sketches were made of, in the same order (record() finds a document's place in
  /// them); they must outlive this.
  void bind(const corpus::SomeRows& rows);

  std::int64_t dim() const { return dim_; }
  /// The documents this rank owns (of which the ends' are held), as the rows'.
  BlockRange range() const { return rows_->range(); }
  /// The codes' range: [-kLevels, kLevels].
  static constexpr float kLevels = 7.0f;
  /// 32-bit words of one sketch (what travels): dim() codes, eight a word (codes 2j and 2j + 1 in
  /// the low and high half of byte j; the last word's unused codes 0), then the scale's bits, so that
  /// every record and its scale are word-aligned.
  std::int64_t record_words() const { return words_for(dim_); }
  static std::int64_t words_for(std::int64_t dim) { return (dim + 7) / 8 + 1; }
  /// The sketch of a held document. Throws InternalError for a document not held.
  const std::uint32_t* record(std::int64_t doc) const {
    return records_.data() + rows_->position(doc) * record_words();  // the sketches follow the rows' order
  }
  /// The sketch of the row at `position` in the rows' order.
  const std::uint32_t* record_at(std::size_t position) const {
    return records_.data() + position * static_cast<std::size_t>(record_words());
  }

 private:
  const corpus::SomeRows* rows_ = nullptr;
  std::int64_t dim_ = 0;
  /// The records are allocated by the first add(), after the rows they are made of: where the
  /// heap has a freed stretch (the meetings' buffers), the smaller sketches fit into it and the
  /// rows grow the heap, not both (10^6 x 768 on 2 ranks: peak 0.813 GiB a rank the other way
  /// round, 0.789 this way).
  std::size_t rows_made_for_ = 0;
  util::UninitVector<std::uint32_t> records_;  ///< rows x record_words(), in the rows' order, written by add()
  /// Room for the records, at the first add() (or bind(), where no row came).
  void allocate();
};

/// The sketch similarity of two sketches of dimension d (symmetric, the same bits on any rank).
float sketch_similarity(const std::uint32_t* a, const std::uint32_t* b, std::int64_t d);

}  // namespace weave::order
