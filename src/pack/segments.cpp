#include "pack/segments.hpp"

#include <algorithm>

namespace weave::pack {

Segments split_into_contexts(const std::vector<std::int64_t>& doc_ids, const std::vector<std::int64_t>& tokens,
                             std::int64_t first_offset, std::int64_t context_length, std::int64_t num_contexts) {
  Segments out;
  const std::int64_t L = context_length;
  std::int64_t offset = first_offset;
  for (std::size_t i = 0; i < doc_ids.size(); ++i) {
    const std::int64_t begin = offset, end = offset + tokens[i];
    offset = end;
    for (std::int64_t c = begin / L; c * L < end && c < num_contexts; ++c) {
      const std::int64_t from = std::max(begin, c * L), to = std::min(end, (c + 1) * L);
      out.context.push_back(c);
      out.doc_id.push_back(doc_ids[i]);
      out.doc_offset.push_back(from - begin);
      out.length.push_back(static_cast<std::int32_t>(to - from));
      out.is_doc_start.push_back(from == begin ? 1 : 0);
      out.source_index.push_back(static_cast<std::int64_t>(i));
      out.starts_context.push_back(from == c * L ? 1 : 0);
    }
  }
  return out;
}

}  // namespace weave::pack
