#include "knn/knn_file.hpp"

#include <optional>

#include <fmt/format.h>

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
  return {{"path", info.path}, {"files", files}, {"documents", info.num_docs}, {"dim", info.dim},
          {"dropped_zero_rows", info.dropped_zero_rows}};
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
    io::create_dataset(f, "/neighbors", H5T_STD_I64LE, {n, k}, chunk_rows);
    io::create_dataset(f, "/similarities", H5T_IEEE_F32LE, {n, k}, chunk_rows);
    io::write_rows(f, "/neighbors", block.range.begin, block.size(), k, lists.neighbors.data());
    io::write_rows(f, "/similarities", block.range.begin, block.size(), k, lists.similarities.data());
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
    f.close();
  }
  output.commit();
}

KnnFileBlock read_knn_file(const mpi::Comm& comm, const std::string& path) {
  KnnFileBlock out;
  std::optional<io::File> opened;
  mpi::collectively(comm, [&] {
    opened.emplace(io::File::open(comm, path));
    if (!opened->has_dataset("/neighbors") || !opened->has_dataset("/similarities"))
      throw UserError(fmt::format("{}: not a knn file (needs /neighbors and /similarities; made by weave knn)", path));
    const auto nb = opened->dataset_info("/neighbors");
    const auto sim = opened->dataset_info("/similarities");
    if (nb.dims.size() != 2 || sim.dims != nb.dims)
      throw UserError(fmt::format("{}: /neighbors and /similarities must both have shape [N, k]", path));
    out.num_docs = nb.dims[0];
    out.k = static_cast<int>(nb.dims[1]);
    if (out.num_docs < comm.size())
      throw UserError(fmt::format("{}: {}, fewer than the {} ranks", path, util::count_of(out.num_docs, "document"),
                                  comm.size()));
  });
  out.range = block_range(out.num_docs, comm.size(), comm.rank());
  out.lists.k = out.k;
  out.lists.neighbors.resize(static_cast<std::size_t>(out.range.size() * out.k));
  out.lists.similarities.resize(out.lists.neighbors.size());
  mpi::collectively(comm, [&] {
    io::read_rows(*opened, "/neighbors", out.range.begin, out.range.size(), out.k, out.lists.neighbors.data());
    io::read_rows(*opened, "/similarities", out.range.begin, out.range.size(), out.k, out.lists.similarities.data());
  });
  return out;
}

}  // namespace weave::knn
