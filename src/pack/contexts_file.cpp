#include "pack/contexts_file.hpp"

#include <fmt/format.h>

#include "mpi/collective_error.hpp"
#include "util/log.hpp"
#include "weave/error.hpp"
#include "weave/version.hpp"

namespace weave::pack {

namespace {

/// The root attributes of docs/format.md, in the order pack writes them (the totals come after
/// separator_tokens, then configuration, input_files and corpus).
constexpr const char* kIntegerAttributes[] = {"schema_version", "context_length", "separator_tokens"};
constexpr const char* kStringAttributes[] = {"creator", "creator_version", "policy", "tail", "configuration",
                                             "input_files", "corpus"};
constexpr const char* kTotals[] = {"documents", "stream_documents", "document_tokens", "separator_tokens", "stream_tokens",
                                   "contexts", "segments", "padding_tokens", "dropped_tail_tokens", "truncated_tokens"};

template <typename T>
std::vector<T> read_column(const io::File& f, const std::string& name, BlockRange r) {
  std::vector<T> out(static_cast<std::size_t>(r.size()));
  io::read_rows(f, name, r.begin, r.size(), 1, out.data());
  return out;
}

}  // namespace

void write_contexts_file(const mpi::Comm& comm, const std::string& path, const ContextRows& rows,
                         const SegmentColumns& columns, const ContextsAttributes& a) {
  std::optional<io::File> created;
  mpi::collectively(comm, [&] { created.emplace(io::File::create(comm, path)); });
  io::File& f = *created;
  const Segments& segs = rows.segs;
  const auto local_segments = static_cast<std::int64_t>(segs.size());
  const std::int64_t chunk = std::int64_t{1} << 20;
  io::create_dataset(f, "/contexts/segment_offsets", io::StoredType::kInt64, {rows.contexts + 1}, chunk);
  io::create_dataset(f, "/contexts/num_tokens", io::StoredType::kInt32, {rows.contexts}, chunk);
  io::create_dataset(f, "/segments/doc_id", io::StoredType::kInt64, {rows.segments}, chunk);
  io::create_dataset(f, "/segments/doc_offset", io::StoredType::kInt64, {rows.segments}, chunk);
  io::create_dataset(f, "/segments/length", io::StoredType::kInt32, {rows.segments}, chunk);
  io::create_dataset(f, "/segments/is_doc_start", io::StoredType::kUint8, {rows.segments}, chunk);
  io::create_dataset(f, "/segments/copy", io::StoredType::kInt32, {rows.segments}, chunk);
  io::create_dataset(f, "/segments/context_offset", io::StoredType::kInt32, {rows.segments}, chunk);
  io::write_rows(f, "/contexts/segment_offsets", rows.offsets_first, static_cast<std::int64_t>(rows.offsets.size()), 1,
                 rows.offsets.data());
  io::write_rows(f, "/contexts/num_tokens", rows.num_tokens_first, static_cast<std::int64_t>(rows.num_tokens.size()), 1,
                 rows.num_tokens.data());
  io::write_rows(f, "/segments/doc_id", rows.segments_first, local_segments, 1, segs.doc_id.data());
  io::write_rows(f, "/segments/doc_offset", rows.segments_first, local_segments, 1, segs.doc_offset.data());
  io::write_rows(f, "/segments/length", rows.segments_first, local_segments, 1, segs.length.data());
  io::write_rows(f, "/segments/is_doc_start", rows.segments_first, local_segments, 1, segs.is_doc_start.data());
  io::write_rows(f, "/segments/copy", rows.segments_first, local_segments, 1, columns.copy.data());
  io::write_rows(f, "/segments/context_offset", rows.segments_first, local_segments, 1, columns.context_offset.data());
  if (columns.user_doc_id != nullptr) {
    io::create_dataset(f, "/segments/user_doc_id", io::StoredType::kInt64, {rows.segments}, chunk);
    io::write_rows(f, "/segments/user_doc_id", rows.segments_first, local_segments, 1, columns.user_doc_id->data());
  }
  io::write_attribute(f, "/", "schema_version", std::int64_t{1});
  io::write_attribute(f, "/", "creator", std::string("weave pack"));
  io::write_attribute(f, "/", "creator_version", std::string(kVersion));
  io::write_attribute(f, "/", "context_length", a.context_length);
  io::write_attribute(f, "/", "policy", a.policy);
  io::write_attribute(f, "/", "tail", a.tail);
  io::write_attribute(f, "/", "separator_tokens", a.separator_tokens);
  for (const auto& [key, value] : a.totals.items()) io::write_attribute(f, "/", "total_" + key, value.get<std::int64_t>());
  io::write_attribute(f, "/", "configuration", a.configuration);
  io::write_attribute(f, "/", "input_files", a.input_files);
  io::write_attribute(f, "/", "corpus", a.corpus);
  f.close();
}

ContextsFile ContextsFile::open(const mpi::Comm& comm, const std::string& path) {
  std::optional<io::File> opened;
  mpi::collectively(comm, [&] { opened.emplace(io::File::open(comm, path)); });
  return of(comm, std::move(*opened));
}

ContextsFile ContextsFile::of(const mpi::Comm& comm, io::File file) {
  std::optional<ContextsFile> out;
  const std::string path = file.path();
  mpi::collectively(comm, [&] {
    ContextsFile c(std::move(file));
    const io::File& f = c.file_;
    for (const char* name : {"/contexts/segment_offsets", "/contexts/num_tokens", "/segments/doc_id",
                             "/segments/doc_offset", "/segments/length", "/segments/is_doc_start"})
      if (!f.has_dataset(name))
        throw UserError(fmt::format("{}: missing dataset {}; not a contexts file written by weave pack?", path, name));
    c.contexts_ = f.dataset_info("/contexts/num_tokens").rows();
    c.segments_ = f.dataset_info("/segments/length").rows();
    c.has_context_offset_ = f.has_dataset("/segments/context_offset");
    c.attributes_ = nlohmann::json::object();
    for (const char* name : kIntegerAttributes)
      if (auto v = io::read_int_attribute(f, "/", name)) c.attributes_[name] = *v;
    for (const char* name : kStringAttributes)
      if (auto v = io::read_string_attribute(f, "/", name)) c.attributes_[name] = *v;
    for (const char* key : kTotals) {
      const std::string name = std::string("total_") + key;
      if (auto v = io::read_int_attribute(f, "/", name)) c.attributes_[name] = *v;
    }
    c.context_length_ = c.attributes_.value("context_length", std::int64_t{0});
    if (c.context_length_ <= 0) throw UserError(fmt::format("{}: no context_length attribute; not made by weave pack?", path));
    const std::int64_t offset_rows = f.dataset_info("/contexts/segment_offsets").rows();
    if (offset_rows != c.contexts_ + 1)
      throw UserError(fmt::format("{}: /contexts/segment_offsets has {} rows, expected {} (contexts + 1)", path,
                                  offset_rows, c.contexts_ + 1));
    out.emplace(std::move(c));
  });
  return std::move(*out);
}

ContextsBlock ContextsFile::read(BlockRange contexts) const {
  const io::File& f = file_;
  ContextsBlock b;
  b.contexts = contexts;
  b.offsets.resize(static_cast<std::size_t>(contexts.size() + 1));
  mpi::collectively(file_.comm(), [&] {
    io::read_rows(f, "/contexts/segment_offsets", contexts.begin, contexts.size() + (contexts_ > 0 ? 1 : 0), 1,
                  b.offsets.data());
    // Offsets index the segments: 0 first, `segments` last, never decreasing.
    for (std::int64_t c = 0; c <= contexts.size() && contexts_ > 0; ++c) {
      const std::int64_t row = contexts.begin + c;
      const std::int64_t at = b.offsets[c];
      const bool ends_right = (row != 0 || at == 0) && (row != contexts_ || at == segments_);
      if (!ends_right || at < 0 || at > segments_ || (c > 0 && at < b.offsets[c - 1]))
        throw UserError(fmt::format("{}: /contexts/segment_offsets row {} is {}: offsets must rise from 0 to the {}",
                                    path(), row, at, util::count_of(segments_, "segment")),
                        row);
    }
  });
  b.segments = contexts.size() > 0 ? BlockRange{b.offsets.front(), b.offsets.back()} : BlockRange{0, 0};
  b.num_tokens = read_column<std::int32_t>(f, "/contexts/num_tokens", contexts);
  b.doc_id = read_column<std::int64_t>(f, "/segments/doc_id", b.segments);
  b.doc_offset = read_column<std::int64_t>(f, "/segments/doc_offset", b.segments);
  b.length = read_column<std::int32_t>(f, "/segments/length", b.segments);
  b.is_doc_start = read_column<std::uint8_t>(f, "/segments/is_doc_start", b.segments);
  if (has_context_offset_) b.context_offset = read_column<std::int32_t>(f, "/segments/context_offset", b.segments);
  return b;
}

ContextsBlock ContextsFile::read_block() const {
  return read(block_range(contexts_, file_.comm().size(), file_.comm().rank()));
}

}  // namespace weave::pack
