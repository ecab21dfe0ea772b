// Reading and checking the corpus metadata: which datasets each shard has, their types and shapes.
// Rank 0 reads it (the files are opened on MPI_COMM_SELF) and broadcasts; O(shards) memory.
#include <filesystem>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "corpus/corpus.hpp"
#include "corpus/metadata.hpp"
#include "io/hdf5.hpp"
#include "mpi/collective_error.hpp"
#include "weave/error.hpp"
#include "util/log.hpp"

namespace weave::corpus {

std::string CorpusInfo::embedding_dtype() const {
  std::vector<std::string> seen;
  for (const auto& s : shards)
    if (std::find(seen.begin(), seen.end(), s.embedding_dtype) == seen.end()) seen.push_back(s.embedding_dtype);
  if (seen.size() == 1) return seen[0];
  return fmt::format("mixed ({})", fmt::join(seen, ", "));
}

std::pair<const Shard*, std::int64_t> CorpusInfo::locate(std::int64_t row) const {
  for (const auto& s : shards)
    if (row >= s.first_row && row < s.first_row + s.rows) return {&s, row - s.first_row};
  throw InternalError(fmt::format("row {} is outside the corpus of {} rows", row, total_rows));
}

namespace {

/// The embedding type as Weave names it, or a UserError saying what is accepted.
std::string embedding_dtype_of(const std::string& file, const io::DatasetInfo& e) {
  if (e.type_class == io::TypeClass::kFloat && (e.type_size == 2 || e.type_size == 4 || e.type_size == 8))
    return fmt::format("float{}", e.type_size * 8);
  if (e.type_class == io::TypeClass::kInteger && e.type_size == 2 && !e.is_signed && e.dtype_attribute == "bfloat16")
    return "bfloat16";
  if (e.type_class == io::TypeClass::kInteger && e.type_size == 2 && !e.is_signed)
    throw UserError(fmt::format("{}: /embeddings is uint16 without the attribute dtype=\"bfloat16\"; if it holds "
                                "bfloat16 bit patterns, set that attribute",
                                file));
  throw UserError(fmt::format("{}: /embeddings has type {}; expected float32, float16, or bfloat16 stored as "
                              "uint16 with attribute dtype=\"bfloat16\"",
                              file, e.describe()));
}

void check_column(const std::string& file, const io::File& f, const std::string& name, std::int64_t rows,
                  bool integer_required) {
  const auto info = f.dataset_info(name);
  if (info.dims.size() != 1)
    throw UserError(fmt::format("{}: {} has {} dimensions, expected 1 (one value per document)", file, name, info.dims.size()));
  if (integer_required && info.type_class != io::TypeClass::kInteger)
    throw UserError(fmt::format("{}: {} has type {}, expected an integer type", file, name, info.describe()));
  if (info.rows() != rows)
    throw UserError(fmt::format("{}: {} has {} rows but /embeddings has {}; every dataset needs one row per document",
                                file, name, info.rows(), rows));
}

struct ShardMetadata {
  Shard shard;
  std::int64_t dim = 0;
  bool present[3] = {false, false, false};  ///< /doc_ids, /sources, /topics
  bool has_lengths = true;
};

ShardMetadata read_shard_metadata(const mpi::Comm& self, const std::string& path) {
  io::File f = io::File::open(self, path);
  ShardMetadata meta;
  Shard& shard = meta.shard;
  shard.path = path;
  std::error_code ec;
  shard.file_bytes = static_cast<std::int64_t>(std::filesystem::file_size(path, ec));
  if (!f.has_dataset("/embeddings"))
    throw UserError(fmt::format("{}: missing dataset /embeddings (shape [n, d]: float32, float16 or bfloat16)", path));
  const auto e = f.dataset_info("/embeddings");
  if (e.dims.size() != 2)
    throw UserError(fmt::format("{}: /embeddings has {} dimensions, expected 2 ([documents, dimension])", path, e.dims.size()));
  shard.embedding_dtype = embedding_dtype_of(path, e);
  shard.rows = e.dims[0];
  if (e.dims[1] <= 0 && shard.rows > 0) throw UserError(fmt::format("{}: /embeddings has dimension 0", path));
  meta.has_lengths = f.has_dataset("/lengths");  // without it, the reader takes them from --lengths-from
  if (meta.has_lengths) check_column(path, f, "/lengths", shard.rows, true);
  const char* optional[3] = {"/doc_ids", "/sources", "/topics"};
  for (int i = 0; i < 3; ++i) {
    meta.present[i] = f.has_dataset(optional[i]);
    if (meta.present[i]) check_column(path, f, optional[i], shard.rows, true);
  }
  meta.dim = e.dims[1];
  return meta;
}

CorpusInfo read_info_on_root(const std::string& corpus_path, const std::vector<std::string>& files) {
  const mpi::Comm self = mpi::Comm::self();
  CorpusInfo info;
  info.path = corpus_path;
  const char* optional[3] = {"/doc_ids", "/sources", "/topics"};
  bool first_present[3] = {false, false, false};
  std::string first_file;
  std::int64_t first_dim = 0;
  std::int64_t row = 0;
  for (std::size_t i = 0; i < files.size(); ++i) {
    ShardMetadata meta = read_shard_metadata(self, files[i]);
    Shard& s = meta.shard;
    const std::int64_t dim = meta.dim;
    const bool* present = meta.present;
    s.first_row = row;
    if (i == 0) {
      info.has_lengths = meta.has_lengths;
      first_file = files[i];
      first_dim = dim;
      std::copy(present, present + 3, first_present);
    } else {
      if (dim != first_dim)
        throw UserError(fmt::format("{}: /embeddings has dimension {}, but {} has {}; all shards need the same dimension",
                                    files[i], dim, first_file, first_dim));
      if (meta.has_lengths != info.has_lengths)
        throw UserError(fmt::format("{}: /lengths is {} here but {} in {}; give it in every shard or in none", files[i],
                                    meta.has_lengths ? "present" : "missing", info.has_lengths ? "present" : "missing",
                                    first_file));
      for (int k = 0; k < 3; ++k)
        if (present[k] != first_present[k])
          throw UserError(fmt::format("{}: {} is {} here but {} in {}; give it in every shard or in none", files[i],
                                      optional[k], present[k] ? "present" : "missing",
                                      first_present[k] ? "present" : "missing", first_file));
    }
    row += s.rows;
    info.shards.push_back(std::move(s));
  }
  info.total_rows = row;
  info.num_docs = row;
  info.dim = static_cast<int>(first_dim);
  info.has_doc_ids = first_present[0];
  info.has_sources = first_present[1];
  info.has_topics = first_present[2];
  if (info.total_rows == 0) throw UserError(fmt::format("{}: the corpus has no documents", corpus_path));
  return info;
}

nlohmann::json to_json(const CorpusInfo& info) {
  nlohmann::json shards = nlohmann::json::array();
  for (const auto& s : info.shards)
    shards.push_back({{"path", s.path}, {"rows", s.rows}, {"first_row", s.first_row}, {"dtype", s.embedding_dtype},
                      {"bytes", s.file_bytes}});
  return {{"path", info.path},         {"shards", shards},           {"total_rows", info.total_rows},
          {"dim", info.dim},           {"has_doc_ids", info.has_doc_ids}, {"has_sources", info.has_sources},
          {"has_topics", info.has_topics}, {"has_lengths", info.has_lengths}};
}

CorpusInfo from_json(const nlohmann::json& j) {
  CorpusInfo info;
  info.path = j["path"];
  for (const auto& s : j["shards"])
    info.shards.push_back({s["path"], s["rows"], s["first_row"], s["dtype"], s["bytes"]});
  info.total_rows = j["total_rows"];
  info.num_docs = info.total_rows;
  info.dim = j["dim"];
  info.has_doc_ids = j["has_doc_ids"];
  info.has_sources = j["has_sources"];
  info.has_topics = j["has_topics"];
  info.has_lengths = j["has_lengths"];
  return info;
}

}  // namespace

CorpusInfo read_corpus_info(const mpi::Comm& comm, const std::string& corpus_path) {
  const auto files = resolve_shards(comm, corpus_path);
  std::string serialized;
  mpi::collectively(comm, [&] {
    if (comm.is_root()) serialized = to_json(read_info_on_root(corpus_path, files)).dump();
  });
  CorpusInfo info = from_json(nlohmann::json::parse(comm.bcast_string(serialized, 0)));
  mpi::collectively(comm, [&] {
    if (info.total_rows < comm.size())
      throw UserError(fmt::format("{}: the corpus has {}, fewer than the {} ranks of this job; run with at most {}",
                                  corpus_path, util::count_of(info.total_rows, "document"), comm.size(),
                                  util::count_of(info.total_rows, "rank")));
  });
  return info;
}

}  // namespace weave::corpus
