// Policy split: prefix sums give every document its global token offset; segments follow.
#include "pack/context_rows.hpp"

namespace weave::pack {

ContextRows split_rows(const mpi::Comm& comm, const std::vector<std::int64_t>& docs,
                       const std::vector<std::int64_t>& tokens, std::int64_t L, bool pad_tail) {
  std::int64_t local_tokens = 0;
  for (auto t : tokens) local_tokens += t;
  const std::int64_t first_offset = comm.exscan_sum(local_tokens);
  const std::int64_t total = comm.sum(local_tokens);
  const std::int64_t full = total / L, rest = total % L;
  ContextRows out;
  out.contexts = full + (pad_tail && rest > 0 ? 1 : 0);
  out.padding_tokens = pad_tail && rest > 0 ? L - rest : 0;
  out.dropped_tail_tokens = pad_tail ? 0 : rest;
  out.segs = split_into_contexts(docs, tokens, first_offset, L, out.contexts);
  const auto local_segments = static_cast<std::int64_t>(out.segs.size());
  out.segments_first = comm.exscan_sum(local_segments);
  out.segments = comm.sum(local_segments);
  // Contexts that start in this rank's tokens: their first segment begins at c * L.
  for (std::size_t j = 0; j < out.segs.size(); ++j) {
    if (!out.segs.starts_context[j]) continue;
    out.offsets.push_back(out.segments_first + static_cast<std::int64_t>(j));
    out.num_tokens.push_back(static_cast<std::int32_t>(out.segs.context[j] < full ? L : rest));
  }
  out.num_tokens_first = comm.exscan_sum(static_cast<std::int64_t>(out.num_tokens.size()));
  if (comm.rank() == comm.size() - 1) out.offsets.push_back(out.segments);
  out.offsets_first = comm.exscan_sum(static_cast<std::int64_t>(out.offsets.size()));
  return out;
}

}  // namespace weave::pack
