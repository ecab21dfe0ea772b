#include "order/order_file.hpp"

#include <optional>

#include "io/atomic_output.hpp"
#include "io/hdf5.hpp"
#include "mpi/collective_error.hpp"
#include "weave/ids.hpp"
#include "weave/version.hpp"

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
    io::create_dataset(f, "/order", H5T_STD_I64LE, {num_docs}, chunk);
    io::create_dataset(f, "/link_similarity", H5T_IEEE_F32LE, {num_docs}, chunk);
    io::create_dataset(f, "/path_offsets", H5T_STD_I64LE, {total}, chunk);
    io::write_rows(f, "/order", positions.begin, positions.size(), 1, order_block.data());
    io::write_rows(f, "/link_similarity", positions.begin, positions.size(), 1, link_similarity.data());
    io::write_rows(f, "/path_offsets", first, count, 1, offsets.data());
    for (const auto& [key, value] : attributes.items()) {
      if (value.is_string()) io::write_attribute(f, "/", key, value.get<std::string>());
      else if (value.is_number_integer()) io::write_attribute(f, "/", key, value.get<std::int64_t>());
      else if (value.is_number()) io::write_attribute(f, "/", key, value.get<double>());
      else io::write_attribute(f, "/", key, value.dump());
    }
    io::write_attribute(f, "/", "num_docs", num_docs);
    io::write_attribute(f, "/", "num_paths", total - 1);
    io::write_attribute(f, "/", "creator", std::string("weave order"));
    io::write_attribute(f, "/", "creator_version", std::string(kVersion));
    f.close();
  }
  output.commit();
}

}  // namespace weave::order
