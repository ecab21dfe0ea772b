// contexts.h5 (docs/format.md, "contexts.h5"): the one writer and the one reader of the format.
// `weave pack` writes it; the training-dataset writer and `weave inspect` read it back, each through
// one open file, attributes included.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "io/hdf5.hpp"
#include "mpi/comm.hpp"
#include "pack/context_rows.hpp"
#include "weave/ids.hpp"

namespace weave::pack {

/// The root attributes pack writes besides the schema and creator.
struct ContextsAttributes {
  std::int64_t context_length = 0;
  std::string policy, tail;
  std::int64_t separator_tokens = 0;
  nlohmann::json totals;  ///< {key: count}, each written as the attribute total_<key>
  std::string configuration, input_files, corpus;  ///< JSON texts
};

/// What one rank writes besides its ContextRows: per segment of rows.segs its copy number, its
/// first token inside its context (cu_seqlens) and, when the corpus has user ids, its user id.
struct SegmentColumns {
  const std::vector<std::int32_t>& copy;
  const std::vector<std::int32_t>& context_offset;
  const std::vector<std::int64_t>* user_doc_id = nullptr;  ///< nullptr: the corpus has no /doc_ids
};

/// Collective. Creates `path` (the caller's .tmp) and writes every rank's rows and the attributes.
void write_contexts_file(const mpi::Comm& comm, const std::string& path, const ContextRows& rows,
                         const SegmentColumns& columns, const ContextsAttributes& attributes);

/// Some contexts and all their segments (segments are contiguous in context order).
struct ContextsBlock {
  BlockRange contexts;                     ///< the contexts read
  BlockRange segments;                     ///< their segments
  std::vector<std::int64_t> offsets;       ///< contexts.size() + 1 global segment indices
  std::vector<std::int32_t> num_tokens;
  std::vector<std::int64_t> doc_id, doc_offset;
  std::vector<std::int32_t> length;
  std::vector<std::uint8_t> is_doc_start;
  std::vector<std::int32_t> context_offset;  ///< empty when the file has no /segments/context_offset
};

/// A contexts file opened on a communicator: its sizes and attributes read (and checked) once.
class ContextsFile {
 public:
  /// Collective. Exit 2 (UserError on every rank) when it is not a contexts file weave pack wrote.
  static ContextsFile open(const mpi::Comm& comm, const std::string& path);
  /// The same over a file opened already (on comm).
  static ContextsFile of(const mpi::Comm& comm, io::File file);

  const std::string& path() const { return file_.path(); }
  std::int64_t contexts() const { return contexts_; }
  std::int64_t segments() const { return segments_; }
  std::int64_t context_length() const { return context_length_; }
  bool has_context_offset() const { return has_context_offset_; }
  /// Every root attribute of docs/format.md the file has, strings and integers as themselves.
  const nlohmann::json& attributes() const { return attributes_; }

  /// Collective (every rank passes its own range). Checks that the offsets rise from 0 to the
  /// number of segments, naming the first bad row.
  ContextsBlock read(BlockRange contexts) const;
  /// This rank's block of contexts (block_range over the ranks).
  ContextsBlock read_block() const;

 private:
  explicit ContextsFile(io::File file) : file_(std::move(file)) {}
  io::File file_;
  std::int64_t contexts_ = 0, segments_ = 0, context_length_ = 0;
  bool has_context_offset_ = false;
  nlohmann::json attributes_;
};

}  // namespace weave::pack
