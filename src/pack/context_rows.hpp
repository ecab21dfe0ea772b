// What one rank writes of a context index: its rows of each dataset and where they go. Both
// policies (split, pad) produce this; pack_stage writes it.
#pragma once

#include <cstdint>
#include <vector>

#include "mpi/comm.hpp"
#include "pack/segments.hpp"

namespace weave::pack {

struct ContextRows {
  std::int64_t contexts = 0, segments = 0;  ///< global sizes
  std::vector<std::int64_t> offsets;        ///< rows of /contexts/segment_offsets from offsets_first
  std::int64_t offsets_first = 0;
  std::vector<std::int32_t> num_tokens;     ///< rows of /contexts/num_tokens from num_tokens_first
  std::int64_t num_tokens_first = 0;
  Segments segs;                            ///< rows of /segments/* from segments_first
  std::int64_t segments_first = 0;
  std::int64_t padding_tokens = 0, dropped_tail_tokens = 0, truncated_tokens = 0;  ///< global
};

/// Policy split (ICLM): the stream cut every L tokens; `tail` drop or pad. Collective.
ContextRows split_rows(const mpi::Comm& comm, const std::vector<std::int64_t>& docs,
                       const std::vector<std::int64_t>& tokens, std::int64_t L, bool pad_tail);

/// Policy pad (Llama 2 Long): whole documents packed greedily in order; a document that does not
/// fit closes the context (right-padded); one longer than L gets a context of its own, truncated
/// to L. Collective; docs/tokens are the stream positions block_range(n, P, rank).
ContextRows pad_rows(const mpi::Comm& comm, std::int64_t n, const std::vector<std::int64_t>& docs,
                     const std::vector<std::int64_t>& tokens, std::int64_t L);

}  // namespace weave::pack
