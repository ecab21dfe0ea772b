// The token store of a corpus: Megatron indexed datasets (io/indexed_dataset.hpp) with one sequence
// per row of the corpus files, in the same order, each as long as the row's /lengths. One dataset
// (PREFIX, PREFIX.idx or PREFIX.bin), or a text manifest that lists several (one PREFIX per line,
// relative to the manifest's folder; blank lines and # comments ignored) whose sequences, in the
// manifest's order, are the corpus's rows — the way Megatron's preprocess_data.py writes one
// dataset per input file.
#pragma once

#include <string>
#include <vector>

#include "corpus/corpus.hpp"
#include "io/indexed_dataset.hpp"
#include "mpi/comm.hpp"

namespace weave::corpus {

/// The prefixes of a token store path (collective: rank 0 reads a manifest, every rank gets the
/// list). Throws UserError for a missing file, an empty manifest, a line that names no dataset.
std::vector<std::string> token_store_prefixes(const mpi::Comm& comm, const std::string& path);

/// Where a document's tokens are: which dataset of the store, the byte offset of its sequence in
/// that dataset's .bin, and its tokens.
struct TokenLocation {
  std::int64_t shard = 0;
  std::int64_t pointer = 0;
  std::int64_t tokens = 0;
};

/// This rank's documents in the token store: the index rows of each dataset that this rank's
/// documents (file rows) fall in.
struct TokenStoreBlock {
  std::string path;                              ///< as given (a prefix or a manifest)
  io::TokenType type;                            ///< the same in every dataset
  std::vector<io::IndexedDatasetBlock> shards;   ///< per dataset, this rank's rows of it (maybe none)
  std::vector<std::int64_t> shard_first_row;     ///< store row of each dataset's row 0, then the total
  std::int64_t sequences = 0, tokens = 0;        ///< over every dataset

  TokenLocation locate(const CorpusBlock& corpus, LocalId i) const;
};

/// Collective. Reads the index rows of this rank's documents and checks them against the corpus: as
/// many sequences (over the datasets) as the files have rows, each as long as /lengths says, one
/// dtype. Any mismatch is a UserError naming the files and the row, on every rank.
TokenStoreBlock read_token_store(const mpi::Comm& comm, const std::string& path, const CorpusBlock& corpus);

/// Collective. The lengths of store rows [begin, end) (this rank's file rows, in rank order over the
/// ranks): the documents' lengths of a corpus without /lengths (`--lengths-from`). The store must
/// hold one sequence per row of `corpus`.
std::vector<std::int64_t> token_store_lengths(const mpi::Comm& comm, const std::string& path, const CorpusInfo& corpus,
                                              std::int64_t begin, std::int64_t end);

/// Collective. The store alone, its rows dealt to the ranks in blocks (for inspect without a corpus).
TokenStoreBlock read_token_store(const mpi::Comm& comm, const std::string& path);

}  // namespace weave::corpus
