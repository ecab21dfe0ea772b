// The summary `weave inspect` prints for a corpus, computed without gathering the corpus:
// exact length percentiles by a distributed search over values, distinct topics by hash routing.
#pragma once

#include <cstdint>
#include <map>
#include <vector>

#include <nlohmann/json.hpp>

#include "corpus/corpus.hpp"

namespace weave::corpus {

struct SourceStats {
  std::int64_t docs = 0;
  std::int64_t tokens = 0;
};

struct CorpusSummary {
  std::int64_t documents = 0;
  std::int64_t dropped_zero_rows = 0;
  int dim = 0;
  std::string dtype;
  std::int64_t shards = 0;
  std::int64_t file_bytes = 0;
  std::int64_t total_tokens = 0;
  std::int64_t min_tokens = 0;
  std::int64_t max_tokens = 0;
  std::vector<std::pair<double, std::int64_t>> length_percentiles;  ///< (p, tokens), nearest rank
  std::int64_t docs_over_32k = 0;
  std::map<std::int32_t, SourceStats> sources;  ///< empty without /sources
  std::int64_t distinct_topics = -1;            ///< -1 without /topics
  bool has_doc_ids = false;

  nlohmann::json to_json() const;
  std::string to_text(const CorpusInfo& info) const;
};

/// Collective; the result is complete on every rank.
CorpusSummary summarize(const mpi::Comm& comm, const CorpusBlock& block);

}  // namespace weave::corpus
