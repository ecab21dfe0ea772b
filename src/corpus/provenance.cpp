#include "corpus/provenance.hpp"

#include <fmt/format.h>

#include "mpi/collective_error.hpp"
#include "util/hash.hpp"
#include "util/log.hpp"
#include "util/random.hpp"
#include "weave/error.hpp"

namespace weave::corpus {

namespace {

/// A document's hash: its id, length and user id, and its embedding bits when it lies in a sampled
/// block (sampled_block). Cheap next to reading the rows, and enough to tell another corpus (or the
/// same documents embedded by another model): not an integrity checksum of every byte.
std::uint64_t document_hash(const float* row, std::int64_t dim, std::int64_t id, std::int64_t length,
                            std::int64_t user_id) {
  std::uint64_t h = util::mix64(static_cast<std::uint64_t>(id) ^ 0x5851f42d4c957f2dULL);
  if (sampled_block(id)) h ^= util::hash_bytes(row, static_cast<std::size_t>(dim) * sizeof(float), h);
  h = util::mix64(h ^ static_cast<std::uint64_t>(length));
  return util::mix64(h ^ static_cast<std::uint64_t>(user_id));
}

}  // namespace

std::string content_fingerprint(const mpi::Comm& comm, const CorpusBlock& block) {
  std::uint64_t sum = 0;  // wraps: a sum mod 2^64 is the same for any split of the documents
  for (std::int64_t i = 0; i < block.size(); ++i)
    sum += document_hash(block.embedding(LocalId(i)), block.info.dim, block.range.begin + i, block.lengths[i],
                         block.doc_ids.empty() ? -1 : block.doc_ids[i]);
  sum = comm.sum(sum);
  return fmt::format("{:016x}", util::mix64(sum ^ static_cast<std::uint64_t>(block.info.num_docs)));
}

namespace {
/// Names the definition of content_fingerprint: a file whose record has another one is not compared.
constexpr const char* kFingerprintScheme = "weave-1";
}  // namespace

nlohmann::json corpus_record(const CorpusInfo& info) {
  return {{"path", info.path}, {"documents", info.num_docs}, {"dim", info.dim}, {"fingerprint", info.fingerprint},
          {"fingerprint_scheme", kFingerprintScheme}};
}

nlohmann::json parse_record(const std::optional<std::string>& attribute) {
  if (!attribute) return nullptr;
  return nlohmann::json::parse(*attribute, nullptr, /*allow_exceptions=*/false);  // discarded -> null-like
}

void check_made_from(const mpi::Comm& comm, const std::string& file, const nlohmann::json& recorded,
                     const CorpusInfo& info, OnOtherCorpus on_other) {
  if (!recorded.is_object() || !recorded.contains("fingerprint") || !recorded["fingerprint"].is_string()) return;
  const std::string fingerprint = recorded["fingerprint"].get<std::string>();
  if (fingerprint.empty() || fingerprint == info.fingerprint) return;
  if (recorded.value("fingerprint_scheme", std::string()) != kFingerprintScheme) {
    util::warn_root(comm, "weave: warning: {} records its corpus with another fingerprint scheme ({}); not compared\n",
                    file, recorded.value("fingerprint_scheme", std::string("none")));
    return;
  }
  const std::string message = fmt::format(
      "{} was made from the corpus {} ({}, d={}, fingerprint {}), but the corpus given is {} ({}, d={}, fingerprint "
      "{})",
      file, recorded.value("path", std::string("?")), util::count_of(recorded.value("documents", std::int64_t{-1}), "document"),
      recorded.value("dim", -1), fingerprint, info.path, util::count_of(info.num_docs, "document"), info.dim,
      info.fingerprint);
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
