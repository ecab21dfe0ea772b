// Validation of the values of a corpus block, the drop of zero rows, and keeping a subset of rows.
#pragma once

#include "corpus/corpus.hpp"

namespace weave::corpus {

/// Local: throws UserError if the embedding x of file row `file_row` has a non-finite value, or is
/// zero under --on-zero-vector=error (the messages of check_values).
void check_embedding(const CorpusInfo& info, std::int64_t file_row, const float* x, ZeroVectorPolicy policy);

/// Local: throws UserError for this block's first bad row (non-finite embedding, zero embedding
/// under --on-zero-vector=error, non-positive length), keyed by the global row.
void check_values(const CorpusBlock& block, ZeroVectorPolicy policy);

/// Collective: doc ids are routed by hash to an owner rank, which finds repeats (O(N/P) per rank).
/// Throws the same UserError everywhere for the first repeated id by row.
void check_unique_doc_ids(const mpi::Comm& comm, const CorpusBlock& block);

/// Collective: removes zero-norm rows, renumbers the remaining documents densely and rebalances
/// them into block_range(num_docs, P, rank). Records file_rows so messages still name file rows.
void drop_zero_rows(const mpi::Comm& comm, CorpusBlock& block);

/// Collective: keeps the rows `keep` (local indices, ascending) of every rank, renumbers them densely
/// in id order and rebalances them into block_range(kept, P, rank) (every column the block holds;
/// file_rows keeps naming the files' rows). The caller checks that enough rows are left.
void keep_rows(const mpi::Comm& comm, CorpusBlock& block, const std::vector<std::int64_t>& keep);

}  // namespace weave::corpus
