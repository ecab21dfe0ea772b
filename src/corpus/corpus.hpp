// A corpus as one rank holds it: its contiguous block of rows, L2-normalised embeddings and the
// per-document columns, plus what every rank knows about the whole corpus (shards, N, d).
#pragma once

#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "mpi/comm.hpp"
#include "weave/config.hpp"
#include "weave/ids.hpp"

namespace weave::corpus {

/// One HDF5 file of the corpus and where its rows sit in the concatenation.
struct Shard {
  std::string path;
  std::int64_t rows = 0;
  std::int64_t first_row = 0;   ///< global row of its row 0
  std::string embedding_dtype;  ///< "float32", "float16", "bfloat16", "float64"
  std::int64_t file_bytes = 0;
};

/// What every rank knows about the whole corpus (O(shards) memory).
struct CorpusInfo {
  std::string path;              ///< the file or manifest given
  std::vector<Shard> shards;
  std::int64_t total_rows = 0;   ///< rows in the files
  std::int64_t num_docs = 0;     ///< documents after --on-zero-vector=drop (= total_rows otherwise)
  int dim = 0;
  bool has_doc_ids = false;
  bool has_sources = false;
  bool has_topics = false;
  bool has_lengths = true;            ///< false: the lengths come from a token store (--lengths-from)
  std::int64_t dropped_zero_rows = 0;
  std::string fingerprint;            ///< content hash (corpus/provenance.hpp), set by read_corpus
  std::string documents_fingerprint;  ///< the same without the embeddings
  bool embeddings_read = true;        ///< false when a stage read the documents alone (Columns)

  /// "float32", or "mixed (float32, float16)" across shards.
  std::string embedding_dtype() const;
  /// The shard holding global file row `row` and the row inside it.
  std::pair<const Shard*, std::int64_t> locate(std::int64_t row) const;
};

/// This rank's block of documents. Global ids are rows of the corpus (renumbered densely when
/// zero rows are dropped; file_rows then maps back to the files).
struct CorpusBlock {
  CorpusInfo info;
  BlockRange range;                     ///< global ids owned here
  std::vector<float> embeddings;        ///< range.size() x info.dim, row-major, unit norm
  std::vector<std::int64_t> lengths;    ///< tokens per document (> 0)
  std::vector<std::int64_t> doc_ids;    ///< user ids (empty when the corpus has none)
  std::vector<std::int32_t> sources;    ///< empty when absent
  std::vector<std::int32_t> topics;     ///< empty when absent
  std::vector<std::int64_t> file_rows;  ///< row in the concatenated files; empty when no row was dropped
  double bytes_read = 0;                ///< bytes of the datasets this rank read (as stored in the files)

  std::int64_t size() const { return range.size(); }
  const float* embedding(LocalId l) const { return embeddings.data() + l.value * info.dim; }
  std::int64_t file_row(LocalId l) const { return file_rows.empty() ? range.begin + l.value : file_rows[l.value]; }
};

/// Scales a row to unit L2 norm (float64 norm); a zero row (--on-zero-vector=keep) stays zero.
inline void normalise_row(float* row, std::int64_t d) {
  double norm2 = 0;
  for (std::int64_t j = 0; j < d; ++j) norm2 += static_cast<double>(row[j]) * row[j];
  if (norm2 == 0) return;
  const float inv = static_cast<float>(1.0 / std::sqrt(norm2));
  for (std::int64_t j = 0; j < d; ++j) row[j] *= inv;
}

/// Resolves a corpus path (HDF5 file or manifest) to its shard files (collective: rank 0 reads,
/// everyone gets the list). Throws UserError for a missing, unreadable or non-HDF5 input.
std::vector<std::string> resolve_shards(const mpi::Comm& comm, const std::string& path);

/// Reads, validates and L2-normalises this rank's block (collective). Every bad input of
/// docs/format.md throws the same UserError on every rank, naming file, dataset and row.
CorpusBlock read_corpus(const mpi::Comm& comm, const CorpusOptions& options);

/// What a stage reads of the corpus.
enum class Columns {
  kAll,        ///< embeddings too (knn, order, inspect of a corpus)
  kDocuments,  ///< lengths, user ids, sources, topics: no embeddings (pack, inspect of contexts), except
               ///< with --on-zero-vector=drop, which must see the embeddings to know the ids
};

/// read_corpus for a stage that needs only `columns`. Without embeddings, block.embeddings is empty,
/// info.embeddings_read is false, and they are neither validated nor fingerprinted
/// (info.fingerprint is empty; documents_fingerprint is set).
CorpusBlock read_corpus(const mpi::Comm& comm, const CorpusOptions& options, Columns columns);

}  // namespace weave::corpus
