// Reading this rank's block of the corpus: collective hyperslab reads over the shards that overlap
// it, then validation (collective, so every rank reports the same first bad row) and normalisation.
#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "corpus/half_precision.hpp"
#include "corpus/corpus.hpp"
#include "corpus/provenance.hpp"
#include "corpus/metadata.hpp"
#include "corpus/token_store.hpp"
#include "corpus/validate.hpp"
#include "io/hdf5.hpp"
#include "mpi/collective_error.hpp"
#include "weave/error.hpp"

namespace weave::corpus {

namespace {

/// Reads rows [begin, begin+count) of one shard's dataset in calls of at most max_rows rows. All
/// ranks make the same number of calls (collective I/O); `read(first, n, out_offset)` does one.
template <typename ReadFn>
void chunked_collective_read(const mpi::Comm& comm, std::int64_t count, std::int64_t max_rows, ReadFn&& read) {
  const std::int64_t my_calls = (count + max_rows - 1) / max_rows;
  const std::int64_t calls = comm.max(my_calls);
  for (std::int64_t c = 0; c < calls; ++c) {
    const std::int64_t first = std::min(c * max_rows, count);
    const std::int64_t n = std::min(max_rows, count - first);
    read(first, n);
  }
}

void read_shard_block(const mpi::Comm& comm, const CorpusInfo& info, const Shard& shard, std::int64_t shard_begin,
                      std::int64_t count, std::int64_t out_offset, std::int64_t max_rows, bool embeddings,
                      CorpusBlock& block) {
  const io::File f = io::File::open(comm, shard.path);
  const std::int64_t d = info.dim;
  const bool bf16 = shard.embedding_dtype == "bfloat16";
  const bool f16 = shard.embedding_dtype == "float16";
  std::vector<std::uint16_t> staging;
  chunked_collective_read(comm, count, max_rows, [&](std::int64_t first, std::int64_t n) {
    if (!embeddings) {
      // documents only (Columns::kDocuments)
    } else if (bf16 || f16) {
      float* out = block.embeddings.data() + (out_offset + first) * d;
      staging.resize(static_cast<std::size_t>(n * d));
      if (bf16) io::read_rows(f, "/embeddings", shard_begin + first, n, d, staging.data());
      else io::read_float16_rows(f, "/embeddings", shard_begin + first, n, d, staging.data());
      std::transform(staging.begin(), staging.end(), out, bf16 ? bfloat16_to_float : half_to_float);
    } else {
      io::read_rows(f, "/embeddings", shard_begin + first, n, d,
                    block.embeddings.data() + (out_offset + first) * d);  // HDF5 converts float64
    }
    const double element_bytes = bf16 || f16 ? 2 : shard.embedding_dtype == "float64" ? 8 : 4;
    block.bytes_read += static_cast<double>(n) * ((embeddings ? element_bytes * static_cast<double>(d) : 0.0) + 8 +
                                                  (info.has_doc_ids ? 8 : 0) + (info.has_sources ? 4 : 0) +
                                                  (info.has_topics ? 4 : 0));
    if (info.has_lengths)
      io::read_rows(f, "/lengths", shard_begin + first, n, 1, block.lengths.data() + out_offset + first);
    if (info.has_doc_ids) io::read_rows(f, "/doc_ids", shard_begin + first, n, 1, block.doc_ids.data() + out_offset + first);
    if (info.has_sources) io::read_rows(f, "/sources", shard_begin + first, n, 1, block.sources.data() + out_offset + first);
    if (info.has_topics) io::read_rows(f, "/topics", shard_begin + first, n, 1, block.topics.data() + out_offset + first);
  });
}

void normalise_rows(CorpusBlock& block) {
  if (!block.info.embeddings_read) return;
  const std::int64_t d = block.info.dim;
  for (std::int64_t i = 0; i < block.size(); ++i) normalise_row(block.embeddings.data() + i * d, d);
}

}  // namespace

CorpusBlock read_corpus(const mpi::Comm& comm, const CorpusOptions& options) {
  return read_corpus(comm, options, Columns::kAll);
}

CorpusBlock read_corpus(const mpi::Comm& comm, const CorpusOptions& options, Columns columns) {
  mpi::collectively(comm, [&] {
    if (options.max_block_rows <= 0) throw UserError("--max-block-rows must be positive");
  });
  CorpusBlock block;
  block.info = read_corpus_info(comm, options.path);
  const CorpusInfo& info = block.info;
  block.range = block_range(info.total_rows, comm.size(), comm.rank());
  const auto n = static_cast<std::size_t>(block.range.size());
  const bool embeddings = columns == Columns::kAll || options.on_zero_vector == ZeroVectorPolicy::kDrop;
  block.info.embeddings_read = embeddings;
  mpi::collectively(comm, [&] {
    if (embeddings) block.embeddings.resize(n * static_cast<std::size_t>(info.dim));
    block.lengths.resize(n);
    if (info.has_doc_ids) block.doc_ids.resize(n);
    if (info.has_sources) block.sources.resize(n);
    if (info.has_topics) block.topics.resize(n);
  });

  for (const Shard& shard : info.shards) {
    if (shard.rows == 0) continue;
    const std::int64_t begin = std::max(block.range.begin, shard.first_row);
    const std::int64_t end = std::min(block.range.end, shard.first_row + shard.rows);
    const std::int64_t count = std::max<std::int64_t>(0, end - begin);
    const std::int64_t shard_begin = count > 0 ? begin - shard.first_row : 0;
    const std::int64_t out_offset = count > 0 ? begin - block.range.begin : 0;
    // Every rank opens every non-empty shard: parallel HDF5 opens and reads are collective.
    mpi::collectively(comm, [&] {
      read_shard_block(comm, info, shard, shard_begin, count, out_offset, options.max_block_rows, embeddings, block);
    });
  }

  // Without /lengths, the documents' lengths are their sequences' in the token store (this rank's
  // file rows, before any row is dropped).
  mpi::collectively(comm, [&] {
    if (!info.has_lengths && options.lengths_from.empty())
      throw UserError(fmt::format("{}: missing dataset /lengths (tokens per document, integer, shape [n]); or give "
                                  "--lengths-from STORE to take them from the corpus's token store",
                                  info.shards.front().path));
  });
  if (!info.has_lengths)
    block.lengths = token_store_lengths(comm, options.lengths_from, info, block.range.begin, block.range.end);
  mpi::collectively(comm, [&] { check_values(block, options.on_zero_vector); });
  if (info.has_doc_ids) check_unique_doc_ids(comm, block);
  if (options.on_zero_vector == ZeroVectorPolicy::kDrop) drop_zero_rows(comm, block);
  normalise_rows(block);
  fingerprint_corpus(comm, block);
  return block;
}

}  // namespace weave::corpus
