// Embedding rows of chosen documents, read from the corpus files when a stage needs only some of
// them: `weave order` reads the rows of its path ends (stitching) and of its stitched links
// (quality), not the corpus, so its memory for rows is O(ends * d / P) instead of O(N * d / P).
// Rows are validated and L2-normalised exactly as read_corpus's: the same bits, the same errors.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <vector>

#include "corpus/corpus.hpp"
#include "mpi/comm.hpp"
#include "util/uninit_vector.hpp"
#include "weave/config.hpp"

namespace weave::corpus {

/// Rows of some documents this rank owns.
class SomeRows {
 public:
  SomeRows() = default;
  SomeRows(BlockRange range, std::int64_t dim, std::vector<std::int64_t> docs, util::UninitVector<float> rows);

  std::int64_t dim() const { return dim_; }
  /// The documents this rank owns (of which some are held).
  BlockRange range() const { return range_; }
  /// The documents held (global ids, ascending).
  const std::vector<std::int64_t>& docs() const { return docs_; }
  /// Whether the row of `doc` is held.
  bool holds(std::int64_t doc) const { return range_.contains(GlobalId(doc)) && index_[doc - range_.begin] >= 0; }
  /// The row of a held document. Throws InternalError for a document not held.
  const float* row(std::int64_t doc) const { return rows_.data() + position(doc) * dim_; }
  /// Where a held document is in docs() (and its row in the rows). Throws InternalError for a
  /// document not held.
  std::int64_t position(std::int64_t doc) const {
    const std::int32_t x = range_.contains(GlobalId(doc)) ? index_[doc - range_.begin] : -1;
    if (x < 0) not_held(doc);
    return x;
  }
  /// Asks for the cache line of a document's position (pair loops look up their rows' positions
  /// in the 4 bytes a document of index_, tens of MB at 10^7 documents a rank, ahead of the rows).
  void prefetch_position(std::int64_t doc) const {
    if (range_.contains(GlobalId(doc))) __builtin_prefetch(index_.data() + (doc - range_.begin));
  }
  std::int64_t bytes() const { return static_cast<std::int64_t>(rows_.size() * sizeof(float)); }

 private:
  BlockRange range_;
  std::int64_t dim_ = 0;
  std::vector<std::int64_t> docs_;
  util::UninitVector<float> rows_;   ///< docs_.size() x dim_
  [[noreturn]] static void not_held(std::int64_t doc);
  std::vector<std::int32_t> index_;  ///< per owned document: its row in rows_, or -1
};

/// Reads rows of a corpus block's documents on demand (from block.embeddings when the block holds
/// them, e.g. after --on-zero-vector=drop, else from the files).
class RowReader {
 public:
  RowReader(const mpi::Comm& comm, const CorpusBlock& block, const CorpusOptions& options)
      : comm_(comm), block_(block), options_(options) {}

  /// Told of each stretch of rows once it is validated and normalised, in order: the position in
  /// the result's docs() of its first row, the rows' count, and the rows themselves.
  using RowsReady = std::function<void(std::size_t first, std::size_t count, const float* rows)>;

  /// Collective. The rows of `docs` (global ids owned here, any order, repeats allowed). Reads the
  /// files in rounds of at most --max-block-rows rows, every rank in every round; a bad row is the
  /// UserError of read_corpus (naming file, dataset and row) on every rank. `ready`, if given, sees
  /// every row in stretches of ~64 KiB while they are still in cache (a pass of its own over the rows
  /// would read them from memory again); its time is not counted in seconds().
  SomeRows read(std::vector<std::int64_t> docs, const RowsReady& ready = {});

  /// Collective. visit(doc, row) for each of `docs` (owned here), their rows read in rounds of
  /// about 64 MiB (every rank takes part in every round) and not kept: a pass over many rows.
  template <typename Visit>
  void visit(const std::vector<std::int64_t>& docs, Visit&& visit) {
    const auto round = static_cast<std::size_t>(std::max<std::int64_t>(1, kVisitBytes / (4 * std::max(1, block_.info.dim))));
    const std::int64_t rounds = comm_.max(static_cast<std::int64_t>((docs.size() + round - 1) / round));
    for (std::int64_t t = 0; t < rounds; ++t) {
      const std::size_t first = std::min(docs.size(), static_cast<std::size_t>(t) * round);
      const std::size_t last = std::min(docs.size(), first + round);
      const SomeRows part = read({docs.begin() + static_cast<std::ptrdiff_t>(first),
                                  docs.begin() + static_cast<std::ptrdiff_t>(last)});
      for (std::int64_t doc : part.docs()) visit(doc, part.row(doc));
    }
  }

  /// Bytes of embeddings read from the files so far by this rank (as stored).
  double bytes_read() const { return bytes_read_; }
  /// Rows read from the files so far by this rank.
  std::int64_t rows_read() const { return rows_read_; }
  /// Wall seconds spent in read() so far (reading the files, validating, normalising; not `ready`).
  double seconds() const { return seconds_; }

 private:
  static constexpr std::int64_t kVisitBytes = std::int64_t{64} << 20;
  /// Rows validated, normalised and handed to `ready` at a time: they stay in the core's caches.
  static constexpr std::int64_t kStretchBytes = std::int64_t{64} << 10;
  SomeRows read_rows(std::vector<std::int64_t> docs, const RowsReady& ready);
  /// `ready` on docs [first, last) of `rows`, timed into ready_seconds_.
  void hand_on(const RowsReady& ready, std::size_t first, std::size_t last, const float* rows);

  const mpi::Comm& comm_;
  const CorpusBlock& block_;
  const CorpusOptions& options_;
  double bytes_read_ = 0;
  std::int64_t rows_read_ = 0;
  double seconds_ = 0;
  double ready_seconds_ = 0;  ///< wall time in read() spent in `ready` (left out of seconds_)
};

}  // namespace weave::corpus
