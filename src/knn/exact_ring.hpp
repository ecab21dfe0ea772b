// The exact kNN ring: every rank keeps its own rows as queries; database chunks travel around the
// ring of ranks, the next one in flight while the current one is searched.
#pragma once

#include "corpus/corpus.hpp"
#include "knn/backend.hpp"

namespace weave::util {
class Report;
}

namespace weave::knn {

/// Collective. Database blocks travel in chunks of at most max_block_rows rows, so a rank holds
/// its own rows plus two chunks: O((N/P) d + chunk d) floats, and O((N/P) k) for the results.
/// Identical rows of a rank's block are searched once (knn/identical_rows.hpp).
KnnLists exact_ring_knn(const mpi::Comm& comm, const corpus::CorpusBlock& block, const KnnConfig& config,
                        SearchBackend& backend, bool quiet, util::Report& report);

}  // namespace weave::knn
