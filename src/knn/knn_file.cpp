#include "knn/knn_file.hpp"

#include <cmath>
#include <optional>

#include <fmt/format.h>

#include "corpus/provenance.hpp"
#include "io/atomic_output.hpp"
#include "io/hdf5.hpp"
#include "mpi/collective_error.hpp"
#include "weave/error.hpp"
#include "weave/version.hpp"
#include "util/log.hpp"

namespace weave::knn {

namespace {

nlohmann::json corpus_files(const corpus::CorpusInfo& info) {
  nlohmann::json files = nlohmann::json::array();
  for (const auto& s : info.shards) files.push_back({{"path", s.path}, {"rows", s.rows}, {"bytes", s.file_bytes}});
  nlohmann::json record = corpus::corpus_record(info);
  record.update({{"files", files}, {"dropped_zero_rows", info.dropped_zero_rows}});
  return record;
}

}  // namespace

void write_knn_file(const mpi::Comm& comm, const std::string& path, const corpus::CorpusBlock& block,
                    const KnnLists& lists, const KnnFileAttributes& attributes) {
  const std::int64_t n = block.info.num_docs;
  const std::int64_t k = lists.k;
  io::AtomicOutput output(comm, path);
  {
    std::optional<io::File> created;
    mpi::collectively(comm, [&] { created.emplace(io::File::create(comm, output.tmp_path())); });
    io::File& f = *created;
    // Chunked by rows so a reader of a few rows touches little of the file.
    const std::int64_t chunk_rows = std::max<std::int64_t>(1, (std::int64_t{1} << 20) / std::max<std::int64_t>(1, k));
    io::create_dataset(f, "/neighbors", io::StoredType::kInt64, {n, k}, chunk_rows);
    io::create_dataset(f, "/similarities", io::StoredType::kFloat32, {n, k}, chunk_rows);
    io::write_rows(f, "/neighbors", block.range.begin, block.size(), k, lists.neighbors.data());
    io::write_rows(f, "/similarities", block.range.begin, block.size(), k, lists.similarities.data());
    if (!attributes.centroids.empty()) {
      const std::int64_t d = block.info.dim;
      const auto clusters = static_cast<std::int64_t>(attributes.centroids.size()) / d;
      io::create_dataset(f, "/centroids", io::StoredType::kFloat32, {clusters, d});
      io::write_rows(f, "/centroids", 0, comm.is_root() ? clusters : 0, d, attributes.centroids.data());
    }
    if (!attributes.row_sum.empty()) {
      const auto entries = static_cast<std::int64_t>(attributes.row_sum.size());
      io::create_dataset(f, "/row_sum", io::StoredType::kInt64, {entries});
      io::write_rows(f, "/row_sum", 0, comm.is_root() ? entries : 0, 1, attributes.row_sum.data());
    }
    io::write_attribute(f, "/", "k", k);
    io::write_attribute(f, "/", "num_docs", n);
    io::write_attribute(f, "/", "metric", std::string("cosine"));
    io::write_attribute(f, "/", "similarity",
                        std::string("dot product of L2-normalised float32 rows in float64: element j into partial "
                                    "sum (j div 4) mod 32, partials combined by halving, rounded to float32"));
    io::write_attribute(f, "/", "method", attributes.method);
    io::write_attribute(f, "/", "backend", attributes.backend);
    io::write_attribute(f, "/", "creator", std::string("weave knn"));
    io::write_attribute(f, "/", "creator_version", std::string(kVersion));
    io::write_attribute(f, "/", "corpus", corpus_files(block.info).dump());
    io::write_attribute(f, "/", "configuration", attributes.configuration.dump());
    for (const auto& [name, value] : attributes.integers) io::write_attribute(f, "/", name, value);
    for (const auto& [name, value] : attributes.reals) io::write_attribute(f, "/", name, value);
    f.close();
  }
  output.commit();
}

KnnFileBlock read_knn_file(const mpi::Comm& comm, const std::string& path) {
  std::optional<io::File> opened;
  mpi::collectively(comm, [&] { opened.emplace(io::File::open(comm, path)); });
  return read_knn_file(comm, std::move(*opened));
}

KnnFileBlock read_knn_file(const mpi::Comm& comm, io::File file) {
  KnnFileBlock out;
  const std::string path = file.path();
  mpi::collectively(comm, [&] {
    if (!file.has_dataset("/neighbors") || !file.has_dataset("/similarities"))
      throw UserError(fmt::format("{}: not a knn file (needs /neighbors and /similarities; made by weave knn)", path));
    const auto nb = file.dataset_info("/neighbors");
    const auto sim = file.dataset_info("/similarities");
    if (nb.dims.size() != 2 || sim.dims != nb.dims)
      throw UserError(fmt::format("{}: /neighbors and /similarities must both have shape [N, k]", path));
    out.num_docs = nb.dims[0];
    out.k = static_cast<int>(nb.dims[1]);
    out.corpus = corpus::parse_record(io::read_string_attribute(file, "/", "corpus"));
    out.attributes = nlohmann::json::object();
    for (const char* name : {"method", "backend", "metric", "creator_version"})
      if (auto s = io::read_string_attribute(file, "/", name)) out.attributes[name] = *s;
    for (const char* name : {"nlist", "nprobe", "train_sample", "recall_queries"})
      if (auto v = io::read_int_attribute(file, "/", name)) out.attributes[name] = *v;
    for (const char* name : {"recall_at_k", "target_recall"})
      if (auto v = io::read_double_attribute(file, "/", name)) out.attributes[name] = *v;
    if (out.num_docs < comm.size())
      throw UserError(fmt::format("{}: {}, fewer than the {} ranks", path, util::count_of(out.num_docs, "document"),
                                  comm.size()));
  });
  out.range = block_range(out.num_docs, comm.size(), comm.rank());
  out.lists.k = out.k;
  out.lists.neighbors.resize(static_cast<std::size_t>(out.range.size() * out.k));
  out.lists.similarities.resize(out.lists.neighbors.size());
  mpi::collectively(comm, [&] {
    io::read_rows(file, "/neighbors", out.range.begin, out.range.size(), out.k, out.lists.neighbors.data());
    io::read_rows(file, "/similarities", out.range.begin, out.range.size(), out.k, out.lists.similarities.data());
  });
  mpi::collectively(comm, [&] { check_lists(path, out); });
  std::int64_t row_sum_entries = 0;
  mpi::collectively(comm, [&] {
    if (!file.has_dataset("/row_sum")) return;
    const auto info = file.dataset_info("/row_sum");
    if (info.dims.size() != 1 || info.dims[0] < 2)
      throw UserError(fmt::format("{}: /row_sum must have shape [d + 1] (made by weave knn)", path));
    row_sum_entries = info.dims[0];
  });
  if (row_sum_entries > 0) {
    out.row_sum.resize(static_cast<std::size_t>(row_sum_entries));
    mpi::collectively(comm, [&] { io::read_rows(file, "/row_sum", 0, row_sum_entries, 1, out.row_sum.data()); });
  }
  return out;
}

KnnFileBlock read_knn_file_for(const mpi::Comm& comm, const std::string& path, const corpus::CorpusInfo& corpus,
                               corpus::Compared compared, bool force) {
  KnnFileBlock knn = read_knn_file(comm, path);
  mpi::collectively(comm, [&] {
    if (knn.num_docs != corpus.num_docs)
      throw UserError(fmt::format("{}: the kNN graph has {} but the corpus {} has {}; give the corpus it was "
                                  "made from (and the same --on-zero-vector)",
                                  path, util::count_of(knn.num_docs, "document"), corpus.path, corpus.num_docs));
  });
  corpus::check_made_from(comm, path, knn.corpus, corpus, compared, corpus::forced(force));
  return knn;
}

void check_lists(const std::string& path, const KnnFileBlock& block) {
  const int k = block.k;
  // A cosine of unit rows, with room for the rounding of the rows' norms and of the sum.
  constexpr float kCosineSlack = 1e-3f;
  for (std::int64_t i = 0; i < block.range.size(); ++i) {
    const std::int64_t row = block.range.begin + i;
    bool padding = false;
    for (int j = 0; j < k; ++j) {
      const std::int64_t v = block.lists.neighbors[i * k + j];
      const float s = block.lists.similarities[i * k + j];
      auto bad = [&](const std::string& what) {
        return UserError(fmt::format("{}: row {}, column {}: {}", path, row, j, what), row);
      };
      if (v == -1) {
        padding = true;
        continue;
      }
      if (padding) throw bad(fmt::format("/neighbors has {} after a -1 (no neighbour): padding must come last", v));
      if (v < 0 || v >= block.num_docs)
        throw bad(fmt::format("/neighbors has {}, not a document of the {} (ids 0..{}) nor -1", v,
                              util::count_of(block.num_docs, "document"), block.num_docs - 1));
      if (v == row) throw bad("/neighbors lists the document itself; a document is never its own neighbour");
      if (!(std::abs(s) <= 1.0f + kCosineSlack))
        throw bad(fmt::format("/similarities has {}, not a cosine similarity in [-1, 1]", s));
    }
  }
}

}  // namespace weave::knn
