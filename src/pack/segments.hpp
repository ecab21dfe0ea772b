// Cutting the ordered token stream into contexts (policy `split`, as in ICLM): documents are
// concatenated in order, each followed by the separator tokens, and the stream is cut every L
// tokens; a document continues across context boundaries. Pure local arithmetic on a rank's piece
// of the order once the global token offset of its first document is known.
#pragma once

#include <cstdint>
#include <vector>

namespace weave::pack {

struct Segments {
  std::vector<std::int64_t> context;     ///< context index of each segment
  std::vector<std::int64_t> doc_id;      ///< global id
  std::vector<std::int64_t> doc_offset;  ///< first token of the segment inside its document stream
  std::vector<std::int32_t> length;      ///< tokens
  std::vector<std::uint8_t> is_doc_start;
  std::vector<std::int64_t> source_index;  ///< index of the document in the caller's block
  std::vector<std::uint8_t> starts_context;  ///< 1 if the segment is its context's first
  std::size_t size() const { return doc_id.size(); }
};

/// Segments of documents with stream lengths `tokens` (document + separators) starting at global
/// token offset `first_offset`, for contexts of L tokens; segments in contexts >= num_contexts are
/// dropped (the dropped tail).
Segments split_into_contexts(const std::vector<std::int64_t>& doc_ids, const std::vector<std::int64_t>& tokens,
                             std::int64_t first_offset, std::int64_t context_length, std::int64_t num_contexts);

}  // namespace weave::pack
