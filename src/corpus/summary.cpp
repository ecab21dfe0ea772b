#include "corpus/summary.hpp"

#include <algorithm>
#include <cmath>
#include <set>

#include <fmt/format.h>

#include "util/log.hpp"
#include "util/random.hpp"

namespace weave::corpus {

namespace {

/// Smallest length v with #(lengths <= v) >= rank over all ranks (binary search on values, one
/// allreduce per step: ~log2(max length) steps).
std::int64_t global_order_statistic(const mpi::Comm& comm, const std::vector<std::int64_t>& sorted, std::int64_t lo,
                                    std::int64_t hi, std::int64_t rank) {
  while (lo < hi) {
    const std::int64_t mid = lo + (hi - lo) / 2;
    const auto local = static_cast<std::int64_t>(std::upper_bound(sorted.begin(), sorted.end(), mid) - sorted.begin());
    if (comm.sum(local) >= rank) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

std::int64_t distinct_count(const mpi::Comm& comm, const std::vector<std::int32_t>& values) {
  std::set<std::int32_t> local(values.begin(), values.end());
  std::vector<std::vector<std::int32_t>> send(static_cast<std::size_t>(comm.size()));
  for (auto v : local) send[util::mix64(static_cast<std::uint64_t>(v)) % comm.size()].push_back(v);
  std::set<std::int32_t> mine;
  for (const auto& from : comm.alltoallv(send)) mine.insert(from.begin(), from.end());
  return comm.sum(static_cast<std::int64_t>(mine.size()));
}

}  // namespace

CorpusSummary summarize(const mpi::Comm& comm, const CorpusBlock& block) {
  CorpusSummary s;
  const CorpusInfo& info = block.info;
  s.documents = info.num_docs;
  s.dropped_zero_rows = info.dropped_zero_rows;
  s.dim = info.dim;
  s.dtype = info.embedding_dtype();
  s.shards = static_cast<std::int64_t>(info.shards.size());
  for (const auto& sh : info.shards) s.file_bytes += sh.file_bytes;
  s.has_doc_ids = info.has_doc_ids;

  std::vector<std::int64_t> sorted = block.lengths;
  std::sort(sorted.begin(), sorted.end());
  std::int64_t tokens = 0, over = 0;
  for (auto l : sorted) {
    tokens += l;
    over += l > 32768 ? 1 : 0;
  }
  s.total_tokens = comm.sum(tokens);
  s.docs_over_32k = comm.sum(over);
  s.min_tokens = comm.min(sorted.empty() ? std::numeric_limits<std::int64_t>::max() : sorted.front());
  s.max_tokens = comm.max(sorted.empty() ? std::int64_t{0} : sorted.back());
  for (double p : {0.01, 0.10, 0.50, 0.90, 0.99, 0.999}) {
    const auto rank = std::max<std::int64_t>(1, static_cast<std::int64_t>(std::ceil(p * static_cast<double>(s.documents))));
    s.length_percentiles.emplace_back(p, global_order_statistic(comm, sorted, s.min_tokens, s.max_tokens, rank));
  }

  if (info.has_sources) {
    // Per-source totals; the number of sources is small (a data mix), so O(sources) on every rank.
    std::map<std::int32_t, SourceStats> local;
    for (std::int64_t i = 0; i < block.size(); ++i) {
      auto& st = local[block.sources[i]];
      st.docs += 1;
      st.tokens += block.lengths[i];
    }
    std::vector<std::int64_t> flat;
    for (const auto& [src, st] : local) flat.insert(flat.end(), {src, st.docs, st.tokens});
    const auto all = comm.gatherv<std::int64_t>(flat, 0);
    std::vector<std::int64_t> merged;
    if (comm.is_root()) {
      for (std::size_t k = 0; k + 2 < all.size(); k += 3) {
        auto& st = s.sources[static_cast<std::int32_t>(all[k])];
        st.docs += all[k + 1];
        st.tokens += all[k + 2];
      }
      for (const auto& [src, st] : s.sources) merged.insert(merged.end(), {src, st.docs, st.tokens});
    }
    auto n = comm.bcast_value<std::int64_t>(static_cast<std::int64_t>(merged.size()), 0);
    merged.resize(static_cast<std::size_t>(n));
    comm.bcast(std::span<std::int64_t>(merged), 0);
    s.sources.clear();
    for (std::size_t k = 0; k + 2 < merged.size(); k += 3)
      s.sources[static_cast<std::int32_t>(merged[k])] = {merged[k + 1], merged[k + 2]};
  }
  if (info.has_topics) s.distinct_topics = distinct_count(comm, block.topics);
  return s;
}

nlohmann::json CorpusSummary::to_json() const {
  nlohmann::json pct = nlohmann::json::object();
  for (const auto& [p, v] : length_percentiles) pct[fmt::format("p{}", p * 100)] = v;
  nlohmann::json src = nlohmann::json::object();
  for (const auto& [id, st] : sources) src[std::to_string(id)] = {{"documents", st.docs}, {"tokens", st.tokens}};
  nlohmann::json j = {{"kind", "corpus"},
                      {"documents", documents},
                      {"dropped_zero_rows", dropped_zero_rows},
                      {"dim", dim},
                      {"dtype", dtype},
                      {"shards", shards},
                      {"file_bytes", file_bytes},
                      {"total_tokens", total_tokens},
                      {"min_tokens", min_tokens},
                      {"max_tokens", max_tokens},
                      {"length_percentiles", pct},
                      {"documents_over_32k_tokens", docs_over_32k},
                      {"has_doc_ids", has_doc_ids}};
  if (!sources.empty()) j["sources"] = src;
  if (distinct_topics >= 0) j["distinct_topics"] = distinct_topics;
  return j;
}

std::string CorpusSummary::to_text(const CorpusInfo& info) const {
  std::string out = fmt::format("corpus {}: valid\n", info.path);
  out += fmt::format("  documents      {}{}\n", documents,
                     dropped_zero_rows ? fmt::format(" ({} all-zero rows dropped)", dropped_zero_rows) : "");
  out += fmt::format("  shards         {} ({})\n", shards, util::format_bytes(static_cast<double>(file_bytes)));
  out += fmt::format("  embeddings     d={} {}\n", dim, dtype);
  out += fmt::format("  tokens         {} total, {:.1f} per document, min {} max {}\n", total_tokens,
                     static_cast<double>(total_tokens) / static_cast<double>(documents), min_tokens, max_tokens);
  std::string pct;
  for (const auto& [p, v] : length_percentiles) pct += fmt::format(" p{}={}", p * 100, v);
  out += fmt::format("  length pct    {}\n", pct);
  out += fmt::format("  over 32K       {}\n", util::count_of(docs_over_32k, "document"));
  out += fmt::format("  doc ids        {}\n", has_doc_ids ? "given (/doc_ids), unique" : "none (global row is the id)");
  if (!sources.empty()) {
    out += fmt::format("  sources        {}\n", sources.size());
    for (const auto& [id, st] : sources)
      out += fmt::format("    source {:<6} {:>12} docs {:>15} tokens ({:.1f}%)\n", id, st.docs, st.tokens,
                         100.0 * static_cast<double>(st.tokens) / static_cast<double>(total_tokens));
  } else {
    out += "  sources        none (/sources absent)\n";
  }
  out += distinct_topics >= 0 ? fmt::format("  topics         {} distinct\n", distinct_topics)
                              : std::string("  topics         none (/topics absent)\n");
  return out;
}

}  // namespace weave::corpus
