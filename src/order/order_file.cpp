#include "order/order_file.hpp"

#include <optional>

#include <fmt/format.h>

#include "corpus/provenance.hpp"
#include "io/atomic_output.hpp"
#include "io/hdf5.hpp"
#include "mpi/collective_error.hpp"
#include "weave/error.hpp"
#include "weave/ids.hpp"
#include "weave/version.hpp"
#include "util/log.hpp"

namespace weave::order {

void write_order_file(const mpi::Comm& comm, const std::string& path, std::int64_t num_docs,
                      const std::vector<std::int64_t>& order_block, const std::vector<float>& link_similarity,
                      const std::vector<std::int64_t>& boundaries, const nlohmann::json& attributes) {
  const BlockRange positions = block_range(num_docs, comm.size(), comm.rank());
  // path_offsets = [0] + boundaries + [N]
  std::vector<std::int64_t> offsets;
  if (comm.is_root()) offsets.push_back(0);
  offsets.insert(offsets.end(), boundaries.begin(), boundaries.end());
  if (comm.rank() == comm.size() - 1) offsets.push_back(num_docs);
  const auto count = static_cast<std::int64_t>(offsets.size());
  const std::int64_t first = comm.exscan_sum(count);
  const std::int64_t total = comm.sum(count);

  io::AtomicOutput output(comm, path);
  {
    std::optional<io::File> created;
    mpi::collectively(comm, [&] { created.emplace(io::File::create(comm, output.tmp_path())); });
    io::File& f = *created;
    const std::int64_t chunk = std::int64_t{1} << 20;
    io::create_dataset(f, "/order", io::StoredType::kInt64, {num_docs}, chunk);
    io::create_dataset(f, "/link_similarity", io::StoredType::kFloat32, {num_docs}, chunk);
    io::create_dataset(f, "/path_offsets", io::StoredType::kInt64, {total}, chunk);
    io::write_rows(f, "/order", positions.begin, positions.size(), 1, order_block.data());
    io::write_rows(f, "/link_similarity", positions.begin, positions.size(), 1, link_similarity.data());
    io::write_rows(f, "/path_offsets", first, count, 1, offsets.data());
    io::write_json_attributes(f, "/", attributes);
    io::write_attribute(f, "/", "num_docs", num_docs);
    io::write_attribute(f, "/", "num_paths", total - 1);
    io::write_attribute(f, "/", "creator", std::string("weave order"));
    io::write_attribute(f, "/", "creator_version", std::string(kVersion));
    f.close();
  }
  output.commit();
}

OrderBlock read_order_file(const mpi::Comm& comm, const std::string& path, OrderColumns columns) {
  std::optional<io::File> opened;
  mpi::collectively(comm, [&] { opened.emplace(io::File::open(comm, path)); });
  return read_order_file(comm, std::move(*opened), columns);
}

OrderBlock read_order_file(const mpi::Comm& comm, io::File file, OrderColumns columns) {
  OrderBlock out;
  const std::string path = file.path();
  mpi::collectively(comm, [&] {
    if (!file.has_dataset("/order"))
      throw UserError(fmt::format("{}: not an order file (needs /order; made by weave order)", path));
    const auto info = file.dataset_info("/order");
    if (info.dims.size() != 1 || info.type_class != io::TypeClass::kInteger)
      throw UserError(fmt::format("{}: /order must be a 1-D integer dataset", path));
    out.num_docs = info.rows();
    out.corpus = corpus::parse_record(io::read_string_attribute(file, "/", "corpus"));
    out.dedup = corpus::parse_record(io::read_string_attribute(file, "/", "dedup"));
    out.attributes = nlohmann::json::object();
    for (const char* name : {"algorithm", "quality", "creator_version"})
      if (auto s = io::read_string_attribute(file, "/", name)) out.attributes[name] = *s;
    if (auto rounds = io::read_int_attribute(file, "/", "rounds")) out.attributes["rounds"] = *rounds;
    if (out.attributes.contains("quality")) out.attributes["quality"] = corpus::parse_record(out.attributes["quality"].get<std::string>());
    if (!out.dedup.is_null()) out.attributes["dedup"] = out.dedup;
    if (columns == OrderColumns::kAll) {
      for (const char* dataset : {"/path_offsets", "/link_similarity"})
        if (!file.has_dataset(dataset))
          throw UserError(fmt::format("{}: missing dataset {} (an order file made by weave order has it)", path, dataset));
      out.paths = file.dataset_info("/path_offsets").rows() - 1;
    }
    if (out.num_docs < comm.size())
      throw UserError(fmt::format("{}: /order has {}, fewer than the {} ranks", path,
                                  util::count_of(out.num_docs, "document"), comm.size()));
  });
  out.positions = block_range(out.num_docs, comm.size(), comm.rank());
  out.docs.resize(static_cast<std::size_t>(out.positions.size()));
  mpi::collectively(comm, [&] {
    io::read_rows(file, "/order", out.positions.begin, out.positions.size(), 1, out.docs.data());
    if (columns == OrderColumns::kAll) {
      out.link_similarity.resize(out.docs.size());
      io::read_rows(file, "/link_similarity", out.positions.begin, out.positions.size(), 1, out.link_similarity.data());
      out.offset_rows = block_range(out.paths + 1, comm.size(), comm.rank());
      out.path_offsets.resize(static_cast<std::size_t>(out.offset_rows.size()));
      io::read_rows(file, "/path_offsets", out.offset_rows.begin, out.offset_rows.size(), 1, out.path_offsets.data());
    }
  });
  return out;
}

void check_permutation(const mpi::Comm& comm, const std::string& path, const OrderBlock& block, std::int64_t n,
                       const std::vector<std::uint8_t>* kept, std::int64_t kept_count) {
  mpi::collectively(comm, [&] {
    if (kept && block.num_docs != kept_count && block.num_docs != n)
      throw UserError(fmt::format("{}: /order has {} but the dedup file keeps {} of the corpus's {}; give the "
                                  "dedup file the order was made with (or an order of the whole corpus)",
                                  path, util::count_of(block.num_docs, "document"), kept_count, n));
    if (!kept && block.num_docs != n) {
      const std::string hint =
          block.dedup.is_object() && block.dedup.contains("path")
              ? fmt::format(" (it was made with --dedup {}: give weave pack the same --dedup)",
                            block.dedup["path"].get<std::string>())
              : std::string("; give the corpus the order was made from");
      throw UserError(fmt::format("{}: /order has {} but the corpus has {}{}", path,
                                  util::count_of(block.num_docs, "document"), n, hint));
    }
    for (std::size_t j = 0; j < block.docs.size(); ++j)
      if (block.docs[j] < 0 || block.docs[j] >= n)
        throw UserError(fmt::format("{}: /order row {}: document {} is outside [0, {})", path,
                                    block.positions.begin + static_cast<std::int64_t>(j), block.docs[j], n),
                        block.positions.begin + static_cast<std::int64_t>(j));
  });
  // Every id goes to its owner with its position; each must arrive exactly once.
  std::vector<std::vector<std::int64_t>> send(static_cast<std::size_t>(comm.size()));
  for (std::size_t j = 0; j < block.docs.size(); ++j) {
    auto& box = send[block_owner(n, comm.size(), GlobalId(block.docs[j]))];
    box.insert(box.end(), {block.docs[j], block.positions.begin + static_cast<std::int64_t>(j)});
  }
  const BlockRange mine = block_range(n, comm.size(), comm.rank());
  std::vector<std::int64_t> first_seen(static_cast<std::size_t>(mine.size()), -1);
  std::int64_t bad_position = -1, bad_doc = -1, earlier = -1, bad_removed = -1, removed_doc = -1;
  for (const auto& part : comm.alltoallv(send))
    for (std::size_t x = 0; x + 1 < part.size(); x += 2) {
      auto& seen = first_seen[part[x] - mine.begin];
      const std::int64_t p = part[x + 1];
      if (seen < 0) {
        seen = p;
        // An order of the kept documents only (as long as the kept set) must hold no removed one.
        if (kept && block.num_docs != n && !(*kept)[part[x] - mine.begin] && (bad_removed < 0 || p < bad_removed))
          bad_removed = p, removed_doc = part[x];
        continue;
      }
      const std::int64_t later = std::max(seen, p);
      if (bad_position < 0 || later < bad_position) bad_position = later, bad_doc = part[x], earlier = std::min(seen, p);
      seen = std::min(seen, p);
    }
  mpi::collectively(comm, [&] {
    if (bad_removed >= 0)
      throw UserError(fmt::format("{}: /order row {}: document {} is one the dedup file removes; give the dedup file "
                                  "the order was made with",
                                  path, bad_removed, removed_doc),
                      bad_removed);
    if (bad_position >= 0)
      throw UserError(fmt::format("{}: /order row {}: document {} appears again (first at row {}); the order must be a "
                                  "permutation of the corpus",
                                  path, bad_position, bad_doc, earlier),
                      bad_position);
  });
}

}  // namespace weave::order
