#include "corpus/provenance.hpp"

#include <span>

#include <fmt/format.h>

#include "mpi/collective_error.hpp"
#include "util/hash.hpp"
#include "util/log.hpp"
#include "util/random.hpp"
#include "weave/error.hpp"

namespace weave::corpus {

namespace {

/// A document's hash: its id, length and user id.
std::uint64_t document_hash(std::int64_t id, std::int64_t length, std::int64_t user_id) {
  std::uint64_t h = util::mix64(static_cast<std::uint64_t>(id) ^ 0x5851f42d4c957f2dULL);
  h = util::mix64(h ^ static_cast<std::uint64_t>(length));
  return util::mix64(h ^ static_cast<std::uint64_t>(user_id));
}

/// Document i of the block's hash.
std::uint64_t document_hash(const CorpusBlock& block, std::int64_t i) {
  return document_hash(block.range.begin + i, block.lengths[i], block.doc_ids.empty() ? -1 : block.doc_ids[i]);
}

/// Document i's embedding hash (row x, normalised), keyed by its document hash.
std::uint64_t row_hash(const CorpusBlock& block, std::int64_t i, const float* x) {
  return util::hash_bytes(x, static_cast<std::size_t>(block.info.dim) * sizeof(float), document_hash(block, i));
}

/// Sets the fingerprints from this rank's wrapping sums of document hashes and of the sampled
/// rows' hashes (collective); `embeddings`: whether the content fingerprint is known.
void set_fingerprints(const mpi::Comm& comm, CorpusBlock& block, std::uint64_t documents, std::uint64_t rows,
                      bool embeddings) {
  // Sums wrap: a sum mod 2^64 is the same for any split of the documents over the ranks.
  std::uint64_t sums[2] = {documents, rows};
  comm.sum_inplace(std::span<std::uint64_t>(sums));
  const auto n = static_cast<std::uint64_t>(block.info.num_docs);
  block.info.documents_fingerprint = fmt::format("{:016x}", util::mix64(sums[0] ^ n));
  block.info.fingerprint = embeddings ? fmt::format("{:016x}", util::mix64(util::mix64(sums[0] ^ n) ^ sums[1])) : "";
}

}  // namespace

void fingerprint_corpus(const mpi::Comm& comm, CorpusBlock& block) {
  std::uint64_t documents = 0, rows = 0;
  for (std::int64_t i = 0; i < block.size(); ++i) {
    documents += document_hash(block, i);
    if (block.info.embeddings_read && sampled_block(block.range.begin + i))
      rows += row_hash(block, i, block.embedding(LocalId(i)));
  }
  set_fingerprints(comm, block, documents, rows, block.info.embeddings_read);
}

void fingerprint_sampled_rows(const mpi::Comm& comm, CorpusBlock& block, RowReader& reader) {
  if (block.info.embeddings_read) return;  // read_corpus fingerprinted them
  std::vector<std::int64_t> sampled;  // owned ids in sampled blocks
  for (std::int64_t id = block.range.begin; id < block.range.end; ++id)
    if (sampled_block(id)) sampled.push_back(id);
  std::uint64_t documents = 0, rows = 0;
  reader.visit(sampled, [&](std::int64_t id, const float* x) { rows += row_hash(block, id - block.range.begin, x); });
  for (std::int64_t i = 0; i < block.size(); ++i) documents += document_hash(block, i);
  set_fingerprints(comm, block, documents, rows, true);
}

namespace {
/// Names the definition of content_fingerprint: a file whose record has another one is not compared.
constexpr const char* kFingerprintScheme = "weave-1";
}  // namespace

nlohmann::json corpus_record(const CorpusInfo& info) {
  nlohmann::json record = {{"path", info.path},
                           {"documents", info.num_docs},
                           {"dim", info.dim},
                           {"documents_fingerprint", info.documents_fingerprint},
                           {"fingerprint_scheme", kFingerprintScheme}};
  if (!info.fingerprint.empty()) record["fingerprint"] = info.fingerprint;  // the embeddings were read
  return record;
}

nlohmann::json parse_record(const std::optional<std::string>& attribute) {
  if (!attribute) return nullptr;
  return nlohmann::json::parse(*attribute, nullptr, /*allow_exceptions=*/false);  // discarded -> null-like
}

void check_made_from(const mpi::Comm& comm, const std::string& file, const nlohmann::json& recorded,
                     const CorpusInfo& info, Compared compared, OnOtherCorpus on_other) {
  const char* key = compared == Compared::kDocuments ? "documents_fingerprint" : "fingerprint";
  const std::string& given = compared == Compared::kDocuments ? info.documents_fingerprint : info.fingerprint;
  if (!recorded.is_object() || !recorded.contains(key) || !recorded[key].is_string()) return;
  const std::string fingerprint = recorded[key].get<std::string>();
  if (fingerprint.empty() || fingerprint == given) return;
  if (recorded.value("fingerprint_scheme", std::string()) != kFingerprintScheme) {
    util::warn_root(comm, "weave: warning: {} records its corpus with another fingerprint scheme ({}); not compared\n",
                    file, recorded.value("fingerprint_scheme", std::string("none")));
    return;
  }
  const std::string message = fmt::format(
      "{} was made from the corpus {} ({}, d={}, {} {}), but the corpus given is {} ({}, d={}, {} {})", file,
      recorded.value("path", std::string("?")), util::count_of(recorded.value("documents", std::int64_t{-1}), "document"),
      recorded.value("dim", -1), key, fingerprint, info.path, util::count_of(info.num_docs, "document"), info.dim, key,
      given);
  if (on_other == OnOtherCorpus::kWarn) {
    util::warn_root(comm, "weave: warning: {}; going on (--force)\n", message);
    return;
  }
  mpi::collectively(comm, [&] {
    throw UserError(fmt::format("{}; give the corpus it was made from{}", message,
                                on_other == OnOtherCorpus::kStopOfferForce ? ", or --force to use them together" : ""));
  });
}

}  // namespace weave::corpus
