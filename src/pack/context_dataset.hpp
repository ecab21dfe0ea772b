// The training dataset of a contexts file: a Megatron-LM indexed dataset with one sequence per
// context (docs/format.md, "How Megatron-LM's GPTDataset cuts samples"): the context's segments'
// tokens in order, a document's separator positions as the EOD id, right padding as the pad id,
// so every sequence is exactly L tokens and becomes exactly one GPTDataset sample of L.
#pragma once

#include <cstdint>
#include <string>

#include "corpus/corpus.hpp"
#include "corpus/token_store.hpp"
#include "mpi/comm.hpp"

namespace weave::pack {

struct DatasetIds {
  std::int64_t eod = -1;  ///< written at every separator position of the stream
  std::int64_t pad = -1;  ///< written as right padding (-1: none may be needed)
};

/// What one rank did, for the report.
struct DatasetWork {
  std::int64_t tokens_copied = 0;  ///< tokens read from the store
  double read_seconds = 0;         ///< the contexts' rows, the owners' pointers, the store's tokens
  double write_seconds = 0;        ///< the .bin and .idx
};

/// Collective. Reads this rank's block of contexts from `contexts_path` (written by pack for length
/// L), fetches each segment's tokens from the token store by positioned reads (the owner of each
/// document says where its sequence starts), and writes PREFIX.idx / PREFIX.bin.
DatasetWork write_context_dataset(const mpi::Comm& comm, const std::string& contexts_path, std::int64_t L,
                                   const corpus::CorpusBlock& corpus, const corpus::TokenStoreBlock& store,
                                   DatasetIds ids, const std::string& prefix);

}  // namespace weave::pack
