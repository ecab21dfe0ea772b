// Data-mix controls of Llama 2 Long: long documents upsampled, sources weighted. Each document gets
// a number of copies, m = floor(x) plus one more with probability frac(x), where
// x = weight(source) * (factor if length >= min_tokens else 1); the draw comes from the global id,
// so it does not depend on the rank count.
//
// Placement: the stream is made of passes over the order. Pass j holds, in order, the documents
// with more than j copies, rotated to start halfway through (one further if that would put a
// document right after its own copy). Inside a pass no document repeats, so a copy never sits next
// to its own copy, except a document that is alone in two consecutive passes.
#pragma once

#include <cstdint>
#include <map>
#include <vector>

#include "mpi/comm.hpp"
#include "weave/config.hpp"
#include "weave/ids.hpp"

namespace weave::pack {

struct Repetition {
  bool active = false;
  std::int64_t min_tokens = 0;   ///< upsample documents at least this long ...
  double factor = 1.0;           ///< ... this many times
  std::map<std::int32_t, double> source_weights;  ///< missing sources weigh 1
  std::uint64_t seed = 1;

  /// Copies of a document.
  std::int64_t copies(std::int64_t global_id, std::int64_t length, std::int32_t source) const;
};

/// Parses --upsample and --source-weights; throws UserError naming the malformed part.
Repetition parse_repetition(const PackConfig& config);

/// The stream after repetition, for positions block_range(total, P, rank).
struct ExpandedOrder {
  std::int64_t total = 0;            ///< documents in the stream, copies counted
  std::vector<std::int64_t> docs;    ///< global ids at this rank's positions
  std::vector<std::int32_t> copy;    ///< which copy (0 = the first pass)
};

/// Collective. docs: this rank's block of the order; copies: the count for each.
ExpandedOrder expand_order(const mpi::Comm& comm, const std::vector<std::int64_t>& docs,
                           const std::vector<std::int64_t>& copies);

}  // namespace weave::pack
