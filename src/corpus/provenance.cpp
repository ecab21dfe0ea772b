#include "corpus/provenance.hpp"

#include <cstring>

#include <fmt/format.h>

#include "mpi/collective_error.hpp"
#include "util/log.hpp"
#include "util/random.hpp"
#include "weave/error.hpp"

namespace weave::corpus {

namespace {

/// Four independent multiply-xor lanes over the row's 64-bit words (fast: no long dependency
/// chain), folded with the document's id, length and user id.
std::uint64_t document_hash(const float* row, std::int64_t dim, std::int64_t id, std::int64_t length,
                            std::int64_t user_id) {
  constexpr std::uint64_t kMul = 0x9e3779b97f4a7c15ULL;
  std::uint64_t lane[4] = {0x243f6a8885a308d3ULL, 0x13198a2e03707344ULL, 0xa4093822299f31d0ULL, 0x082efa98ec4e6c89ULL};
  const auto bytes = static_cast<std::size_t>(dim) * sizeof(float);
  std::size_t at = 0;
  for (; at + 32 <= bytes; at += 32)
    for (int l = 0; l < 4; ++l) {
      std::uint64_t word;
      std::memcpy(&word, reinterpret_cast<const char*>(row) + at + 8 * l, 8);
      lane[l] = (lane[l] ^ word) * kMul;
    }
  for (int l = 0; at < bytes; at += 4, l = (l + 1) % 4) {
    std::uint32_t word;
    std::memcpy(&word, reinterpret_cast<const char*>(row) + at, 4);
    lane[l] = (lane[l] ^ word) * kMul;
  }
  std::uint64_t h = util::mix64(static_cast<std::uint64_t>(id));
  for (std::uint64_t x : lane) h = util::mix64(h ^ x);
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

nlohmann::json corpus_record(const CorpusInfo& info) {
  return {{"path", info.path}, {"documents", info.num_docs}, {"dim", info.dim}, {"fingerprint", info.fingerprint}};
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
