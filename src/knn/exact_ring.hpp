// The exact kNN ring: every rank keeps its own rows as queries; database chunks travel around the
// ring of ranks, the next one in flight while the current one is searched.
#pragma once

#include "corpus/corpus.hpp"
#include "knn/backend.hpp"

namespace weave::util {
class Report;
}

namespace weave::knn {

struct RingOptions {
  int k = 10;
  std::int64_t chunk_rows = std::int64_t{1} << 20;  ///< rows a travelling chunk holds at most
  bool quiet = true;                                ///< no progress lines
};

/// Collective. Database blocks travel in chunks of at most options.chunk_rows rows, so a rank holds
/// its own rows plus two chunks: O((N/P) d + chunk d) floats, and O((N/P) k) for the results.
/// Identical rows of a rank's block are searched once (knn/identical_rows.hpp).
KnnLists exact_ring_knn(const mpi::Comm& comm, const DistributedRows& rows, const RingOptions& options, SearchBackend& backend,
                        util::Report& report);

/// A corpus block as the kNN core searches it (no copy).
inline DistributedRows distributed_rows_of(const corpus::CorpusBlock& block) {
  return DistributedRows{RowBlock{block.embeddings.data(), block.size(), GlobalId(block.range.begin)}, block.info.dim,
                block.info.num_docs};
}

}  // namespace weave::knn
