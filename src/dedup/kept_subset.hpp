// The documents a dedup file keeps, as a corpus of their own: renumbered densely in id order and
// rebalanced over the ranks, with their kNN lists in the new numbering (removed neighbours left
// out, the lists padded with -1). weave order orders this subset, then names its documents by
// their ids in the whole corpus again.
#pragma once

#include <cstdint>
#include <vector>

#include "corpus/corpus.hpp"
#include "knn/backend.hpp"
#include "mpi/comm.hpp"

namespace weave::dedup {

struct KeptSubset {
  corpus::CorpusBlock corpus;               ///< the kept documents (info.num_docs = how many)
  knn::KnnLists lists;                      ///< their lists, in the subset's ids
  std::vector<std::int64_t> original_ids;   ///< per row of corpus: its id in the whole corpus
};

/// Collective. corpus and lists: this rank's block of the whole corpus; kept: 1/0 for its rows.
KeptSubset keep_documents(const mpi::Comm& comm, corpus::CorpusBlock corpus, const knn::KnnLists& lists,
                          const std::vector<std::uint8_t>& kept);

/// Collective: the whole-corpus ids of any subset ids (e.g. a block of an order of the subset).
std::vector<std::int64_t> original_ids_of(const mpi::Comm& comm, const KeptSubset& subset,
                                          const std::vector<std::int64_t>& subset_ids);

}  // namespace weave::dedup
