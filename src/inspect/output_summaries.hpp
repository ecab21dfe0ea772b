// `weave inspect` for the stages' outputs: knn.h5, order.h5 and contexts.h5, and for token stores
// (the corpus summary is corpus/summary.hpp). Each is computed collectively from row blocks; results complete everywhere.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "io/hdf5.hpp"
#include "mpi/comm.hpp"
#include "weave/config.hpp"

namespace weave::inspect {

/// A file inspect was asked about: its kind, "corpus", "knn", "order", "dedup", "contexts" (from the
/// datasets present) or "tokens" (a Megatron indexed dataset: PREFIX, PREFIX.idx or PREFIX.bin);
/// for the stages' outputs the file itself, opened once on comm and handed to the summary.
struct InspectedFile {
  std::string kind;
  std::optional<io::File> file;  ///< knn, order, dedup, contexts
};
/// Collective. A corpus (or what is not HDF5) is left to the corpus reader, which names the fault.
InspectedFile open_inspected(const mpi::Comm& comm, const std::string& path);

nlohmann::json summarize_knn(const mpi::Comm& comm, io::File file);
nlohmann::json summarize_order(const mpi::Comm& comm, io::File file);
/// A dedup file: documents kept and removed (counted from /kept), the largest group, and the
/// groups' summary attributes (histogram of sizes, the largest groups' first documents, tokens removed).
nlohmann::json summarize_dedup(const mpi::Comm& comm, io::File file);
/// With a corpus that has /topics, also the mean topic purity of the contexts (share of a
/// context's tokens from its most common topic).
nlohmann::json summarize_contexts(const mpi::Comm& comm, io::File file, const CorpusOptions* corpus);

/// A token store (Megatron indexed dataset): sequences, tokens, dtype, lengths; with a corpus, also
/// checked against it (one sequence per row, lengths equal to /lengths). With eod_id >= 0 (a dataset
/// written by `weave pack --dataset`), also the document boundaries of its first sequences: where
/// each document starts, 0 and every position right after a run of EOD tokens (contexts.h5's
/// cu_seqlens, /segments/context_offset, read from the tokens themselves).
nlohmann::json summarize_tokens(const mpi::Comm& comm, const std::string& path, const CorpusOptions* corpus,
                                std::int64_t eod_id = -1);

/// Human-readable form of the summaries above.
std::string to_text(const std::string& path, const nlohmann::json& summary);

}  // namespace weave::inspect
