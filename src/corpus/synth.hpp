// `weave synth`: synthetic corpora of topic clusters, near-duplicates and heavy-tailed lengths.
//
// Document i is a pure function of (config, i): a topic centroid plus Gaussian noise, or (with
// probability duplicate_share) a near-copy of an earlier document; its token length is log-normal.
// Ranks generate their blocks and write one file collectively, identical for any rank count.
#pragma once

#include <cstdint>
#include <vector>

#include "mpi/comm.hpp"
#include "weave/config.hpp"

namespace weave::util {
class Report;
}

namespace weave::corpus {

struct SynthDocument {
  std::int32_t topic = 0;
  std::int32_t source = 0;
  std::int64_t length = 0;
  std::int64_t duplicate_of = -1;  ///< the global id this is a near-copy of, or -1
};

class SynthGenerator {
 public:
  explicit SynthGenerator(const SynthConfig& config);
  /// Fills embedding[0..dim) (not normalised) and returns the document's columns.
  SynthDocument generate(std::int64_t global_id, float* embedding) const;

 private:
  /// The topic vector of a document that is not a duplicate.
  void original(std::int64_t global_id, float* embedding, std::int32_t& topic) const;
  bool is_duplicate(std::int64_t global_id) const;
  std::int64_t length_of(std::int64_t global_id) const;

  SynthConfig config_;
  std::vector<float> centroids_;  ///< topics x dim, unit rows
};

/// Collective: generates the corpus and writes config.out (via .tmp + rename).
void write_synth_corpus(const mpi::Comm& comm, const SynthConfig& config, bool quiet, util::Report& report);

}  // namespace weave::corpus
