// Provenance: which corpus an output was made from. read_corpus gives every corpus a content
// fingerprint; knn.h5, order.h5 and contexts.h5 record it (attribute `corpus`, JSON), and a stage
// given a file made from another corpus stops with exit 2 naming both (`--force` uses them anyway).
// The run stamps of `weave run` (run/pipeline.cpp) are separate: they decide what to redo.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "corpus/corpus.hpp"
#include "corpus/row_reader.hpp"

namespace weave::corpus {

/// Whether a document's embedding enters the fingerprint: every 16th block of 1,024 consecutive ids,
/// so a reader that needs no embeddings could read these few contiguous rows alone.
inline bool sampled_block(std::int64_t id) { return (id / 1024) % 16 == 0; }

/// Collective, O(N/P + N d / (16 P)): sets block.info's fingerprints, 64-bit hashes as 16 hex
/// digits, each a wrapping sum of per-document hashes so that it does not depend on the rank count:
/// documents_fingerprint of every document's global id, token length and user id; fingerprint of
/// those and the embedding bits (after normalisation) of the documents in sampled blocks (empty
/// when the embeddings were not read).
void fingerprint_corpus(const mpi::Comm& comm, CorpusBlock& block);

/// Collective, O(N/P + N d / (16 P)) read: the content fingerprint of a block read without its
/// embeddings (Columns::kDocuments), from the rows of the sampled blocks alone, read by `reader`:
/// the same fingerprint that read_corpus gives. No-op when the block holds its embeddings.
void fingerprint_sampled_rows(const mpi::Comm& comm, CorpusBlock& block, RowReader& reader);

/// What an output records of its corpus: path, documents, dim and the content fingerprint.
nlohmann::json corpus_record(const CorpusInfo& info);

/// The JSON of a recorded attribute (null when absent or not JSON: files from before provenance).
nlohmann::json parse_record(const std::optional<std::string>& attribute);

/// What a stage does when a file records another corpus than the one given.
enum class OnOtherCorpus {
  kStop,              ///< exit 2 (inspect: nothing to force)
  kStopOfferForce,    ///< exit 2, the message names --force
  kWarn,              ///< --force given: a warning on stderr, and go on
};

/// Which fingerprint a stage compares: the documents alone (pack, inspect: they use lengths, ids,
/// topics) or with the embeddings (order: the kNN graph was made from them).
enum class Compared { kDocuments, kContent };

/// Collective. `recorded` is the `corpus` record of `file` (null or without a fingerprint: a file
/// from before fingerprints, accepted). Unless it matches `info`, acts as `on_other` says; the
/// message names both corpora with their sizes and fingerprints.
void check_made_from(const mpi::Comm& comm, const std::string& file, const nlohmann::json& recorded,
                     const CorpusInfo& info, Compared compared, OnOtherCorpus on_other);

/// kWarn with --force, else kStopOfferForce.
inline OnOtherCorpus forced(bool force) { return force ? OnOtherCorpus::kWarn : OnOtherCorpus::kStopOfferForce; }

}  // namespace weave::corpus
