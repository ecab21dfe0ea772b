#include "corpus/provenance.hpp"

#include <algorithm>
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

}  // namespace

void fingerprint_corpus(const mpi::Comm& comm, CorpusBlock& block) {
  // Sums wrap: a sum mod 2^64 is the same for any split of the documents over the ranks.
  std::uint64_t sums[2] = {0, 0};  // documents; embeddings of the sampled blocks
  for (std::int64_t i = 0; i < block.size(); ++i) {
    const std::int64_t id = block.range.begin + i;
    const std::uint64_t h = document_hash(id, block.lengths[i], block.doc_ids.empty() ? -1 : block.doc_ids[i]);
    sums[0] += h;
    if (block.info.embeddings_read && sampled_block(id))
      sums[1] += util::hash_bytes(block.embedding(LocalId(i)), static_cast<std::size_t>(block.info.dim) * sizeof(float), h);
  }
  comm.sum_inplace(std::span<std::uint64_t>(sums));
  const auto n = static_cast<std::uint64_t>(block.info.num_docs);
  block.info.documents_fingerprint = fmt::format("{:016x}", util::mix64(sums[0] ^ n));
  block.info.fingerprint =
      block.info.embeddings_read ? fmt::format("{:016x}", util::mix64(util::mix64(sums[0] ^ n) ^ sums[1])) : "";
}

void fingerprint_sampled_rows(const mpi::Comm& comm, CorpusBlock& block, RowReader& rows) {
  if (block.info.embeddings_read) return;  // read_corpus fingerprinted them
  std::vector<std::int64_t> sampled;  // owned ids in sampled blocks
  for (std::int64_t id = block.range.begin; id < block.range.end; ++id)
    if (sampled_block(id)) sampled.push_back(id);
  // In rounds of ~64 MiB of rows: the sum wraps, so how the rows are split changes nothing.
  const auto round = static_cast<std::size_t>(std::max<std::int64_t>(1, (64 << 20) / (4 * std::max(1, block.info.dim))));
  const auto rounds = comm.max(static_cast<std::int64_t>((sampled.size() + round - 1) / round));
  std::uint64_t sums[2] = {0, 0};
  for (std::int64_t t = 0; t < rounds; ++t) {
    const std::size_t first = std::min(sampled.size(), static_cast<std::size_t>(t) * round);
    const std::size_t last = std::min(sampled.size(), first + round);
    const SomeRows part = rows.read({sampled.begin() + static_cast<std::ptrdiff_t>(first),
                                     sampled.begin() + static_cast<std::ptrdiff_t>(last)});
    for (std::int64_t id : part.docs()) {
      const std::int64_t i = id - block.range.begin;
      const std::uint64_t h = document_hash(id, block.lengths[i], block.doc_ids.empty() ? -1 : block.doc_ids[i]);
      sums[1] += util::hash_bytes(part.row(id), static_cast<std::size_t>(block.info.dim) * sizeof(float), h);
    }
  }
  for (std::int64_t i = 0; i < block.size(); ++i)
    sums[0] += document_hash(block.range.begin + i, block.lengths[i], block.doc_ids.empty() ? -1 : block.doc_ids[i]);
  comm.sum_inplace(std::span<std::uint64_t>(sums));
  const auto n = static_cast<std::uint64_t>(block.info.num_docs);
  block.info.fingerprint = fmt::format("{:016x}", util::mix64(util::mix64(sums[0] ^ n) ^ sums[1]));
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
