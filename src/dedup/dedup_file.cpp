#include "dedup/dedup_file.hpp"

#include <optional>

#include <fmt/format.h>

#include "corpus/provenance.hpp"
#include "io/atomic_output.hpp"
#include "io/hdf5.hpp"
#include "mpi/collective_error.hpp"
#include "util/log.hpp"
#include "weave/error.hpp"
#include "weave/version.hpp"

namespace weave::dedup {

void write_dedup_file(const mpi::Comm& comm, const std::string& path, std::int64_t num_docs, BlockRange range,
                      const DuplicateGroups& groups, const nlohmann::json& attributes) {
  std::vector<std::uint8_t> kept(static_cast<std::size_t>(range.size()));
  for (std::int64_t i = 0; i < range.size(); ++i) kept[i] = groups.representative[i] == range.begin + i ? 1 : 0;
  io::AtomicOutput output(comm, path);
  {
    std::optional<io::File> created;
    mpi::collectively(comm, [&] { created.emplace(io::File::create(comm, output.tmp_path())); });
    io::File& f = *created;
    const std::int64_t chunk = std::int64_t{1} << 20;
    io::create_dataset(f, "/kept", io::StoredType::kUint8, {num_docs}, chunk);
    io::create_dataset(f, "/representative", io::StoredType::kInt64, {num_docs}, chunk);
    io::create_dataset(f, "/group_size", io::StoredType::kInt64, {num_docs}, chunk);
    io::write_rows(f, "/kept", range.begin, range.size(), 1, kept.data());
    io::write_rows(f, "/representative", range.begin, range.size(), 1, groups.representative.data());
    io::write_rows(f, "/group_size", range.begin, range.size(), 1, groups.group_size.data());
    io::write_json_attributes(f, "/", attributes);
    io::write_attribute(f, "/", "num_docs", num_docs);
    io::write_attribute(f, "/", "kept_documents", num_docs - groups.removed_documents);
    io::write_attribute(f, "/", "creator", std::string("weave dedup"));
    io::write_attribute(f, "/", "creator_version", std::string(kVersion));
    f.close();
  }
  output.commit();
}

DedupBlock read_dedup_file(const mpi::Comm& comm, const std::string& path, std::int64_t num_docs) {
  DedupBlock out;
  std::optional<io::File> opened;
  mpi::collectively(comm, [&] {
    opened.emplace(io::File::open(comm, path));
    if (!opened->has_dataset("/kept") || !opened->has_dataset("/representative"))
      throw UserError(fmt::format("{}: not a dedup file (needs /kept and /representative; made by weave dedup)", path));
    const auto info = opened->dataset_info("/kept");
    if (info.dims.size() != 1 || info.type_class != io::TypeClass::kInteger)
      throw UserError(fmt::format("{}: /kept must be a 1-D integer dataset", path));
    out.num_docs = info.rows();
    if (out.num_docs != num_docs)
      throw UserError(fmt::format("{}: /kept has {} but the corpus has {}; give the dedup file made from this corpus",
                                  path, util::count_of(out.num_docs, "document"), num_docs));
    out.corpus = corpus::parse_record(io::read_string_attribute(*opened, "/", "corpus"));
    out.threshold = io::read_double_attribute(*opened, "/", "threshold").value_or(0.0);
  });
  out.range = block_range(num_docs, comm.size(), comm.rank());
  out.kept.resize(static_cast<std::size_t>(out.range.size()));
  mpi::collectively(comm, [&] {
    io::read_rows(*opened, "/kept", out.range.begin, out.range.size(), 1, out.kept.data());
    for (std::int64_t i = 0; i < out.range.size(); ++i)
      if (out.kept[i] > 1)
        throw UserError(fmt::format("{}: /kept row {}: {} is not 0 (removed) or 1 (kept)", path, out.range.begin + i,
                                    static_cast<int>(out.kept[i])),
                        out.range.begin + i);
  });
  std::int64_t kept = 0;
  for (auto x : out.kept) kept += x;
  out.kept_documents = comm.sum(kept);
  mpi::collectively(comm, [&] {
    if (out.kept_documents < comm.size())
      throw UserError(fmt::format("{}: keeps {}, fewer than the {} ranks of this job", path,
                                  util::count_of(out.kept_documents, "document"), comm.size()));
  });
  return out;
}

}  // namespace weave::dedup
