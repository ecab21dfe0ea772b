// The token store of a corpus: a Megatron indexed dataset (io/indexed_dataset.hpp) with one
// sequence per row of the corpus files, in the same order, each as long as the row's /lengths.
#pragma once

#include <string>

#include "corpus/corpus.hpp"
#include "io/indexed_dataset.hpp"
#include "mpi/comm.hpp"

namespace weave::corpus {

/// This rank's documents in the token store: for document i of the block, its sequence is row
/// block.file_row(i) of the store, at index.pointers[file_row - index.first].
struct TokenStoreBlock {
  io::IndexedDatasetBlock index;
  std::int64_t row_of(const CorpusBlock& corpus, LocalId i) const { return corpus.file_row(i) - index.first; }
};

/// Collective. Reads the index rows of this rank's documents and checks them against the corpus: as
/// many sequences as the files have rows, each as long as /lengths says. Any mismatch is a UserError
/// naming both files and the row, on every rank.
TokenStoreBlock read_token_store(const mpi::Comm& comm, const std::string& path, const CorpusBlock& corpus);

}  // namespace weave::corpus
