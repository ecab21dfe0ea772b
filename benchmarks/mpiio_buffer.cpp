// What the MPI-IO collective-buffering size (mpi/file_hints.hpp) costs in rate: every rank writes
// and reads back a block of rows collectively through Weave's HDF5 layer, then reads scattered
// single rows (as the order stage reads its path ends' embeddings); the baseline, in the same run,
// is each rank writing and reading the same bytes to a file of its own with plain POSIX I/O.
// Prints the buffer the MPI-IO layer reports, rates (GB/s over all ranks, slowest rank's time) and
// ratios to the baseline. benchmarks/mpiio_buffer.py runs it with several buffer sizes alternately.
// Usage: mpirun -n P mpiio_buffer DIR [ROWS_PER_RANK=1048576] [COLS=64] [SCATTERED_PER_RANK=20000]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "io/hdf5.hpp"
#include "mpi/environment.hpp"
#include "util/random.hpp"
#include "util/report.hpp"
#include "weave/error.hpp"

using namespace weave;

namespace {

constexpr int kRepeats = 3;  // the best of three: the first touch of the page cache is not the rate

/// Seconds of the slowest rank for fn, the best of kRepeats (a barrier first: every rank starts together).
template <typename Fn>
double timed(const mpi::Comm& comm, Fn&& fn) {
  double best = 1e300;
  for (int r = 0; r < kRepeats; ++r) {
    comm.barrier();
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::min(best, comm.max(s));
  }
  return best;
}

void posix_write(const std::string& path, const std::vector<float>& rows) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f || std::fwrite(rows.data(), sizeof(float), rows.size(), f) != rows.size() || std::fclose(f) != 0)
    throw UserError(fmt::format("{}: cannot write", path));
}

void posix_read(const std::string& path, std::vector<float>& rows) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f || std::fread(rows.data(), sizeof(float), rows.size(), f) != rows.size() || std::fclose(f) != 0)
    throw UserError(fmt::format("{}: cannot read", path));
}

}  // namespace

int measure(const mpi::Comm& comm, int argc, char** argv) {
  if (argc < 2) {
    if (comm.is_root()) fmt::print(stderr, "usage: mpiio_buffer DIR [ROWS_PER_RANK] [COLS] [SCATTERED_PER_RANK]\n");
    return 2;
  }
  const std::string dir = argv[1];
  const std::int64_t rows = argc > 2 ? std::stoll(argv[2]) : std::int64_t{1} << 20;
  const std::int64_t cols = argc > 3 ? std::stoll(argv[3]) : 64;
  const std::int64_t scattered = argc > 4 ? std::stoll(argv[4]) : 20000;
  const std::int64_t total_rows = rows * comm.size();
  const double bytes = static_cast<double>(total_rows * cols) * sizeof(float);

  std::vector<float> block(static_cast<std::size_t>(rows * cols));
  for (std::size_t i = 0; i < block.size(); ++i) block[i] = static_cast<float>(comm.rank() * 7 + i % 1013);
  std::vector<float> back(block.size());

  const std::string own = fmt::format("{}/posix_{}.bin", dir, comm.rank());
  const double posix_write_s = timed(comm, [&] { posix_write(own, block); });
  const double posix_read_s = timed(comm, [&] { posix_read(own, back); });
  std::filesystem::remove(own);

  const std::string path = dir + "/mpiio_buffer.h5";
  std::optional<std::int64_t> written_buffer;  // what the MPI-IO layer reports for the file written, then read
  const double write_s = timed(comm, [&] {
    io::File f = io::File::create(comm, path);
    written_buffer = f.collective_buffer_bytes();
    io::create_dataset(f, "/rows", io::StoredType::kFloat32, {total_rows, cols});
    io::write_rows(f, "/rows", comm.rank() * rows, rows, cols, block.data());
    f.close();
  });
  io::File f = io::File::open(comm, path);
  const std::optional<std::int64_t> read_buffer = f.collective_buffer_bytes();
  const double read_s = timed(comm, [&] { io::read_rows(f, "/rows", comm.rank() * rows, rows, cols, back.data()); });
  if (!std::equal(back.begin(), back.end(), block.begin())) throw InternalError("rows read back differ");

  // Single rows spread over the whole dataset, ascending (read_row_runs' contract), seeded by rank.
  std::vector<io::RowRun> runs;
  util::CounterRng rng(11, 3, static_cast<std::uint64_t>(comm.rank()));
  std::vector<std::int64_t> picks(static_cast<std::size_t>(scattered));
  for (auto& r : picks) r = static_cast<std::int64_t>(rng.next() % static_cast<std::uint64_t>(total_rows));
  std::sort(picks.begin(), picks.end());
  picks.erase(std::unique(picks.begin(), picks.end()), picks.end());
  for (std::int64_t r : picks) runs.push_back({r, 1});
  std::vector<float> some(picks.size() * static_cast<std::size_t>(cols));
  const double scattered_s = timed(comm, [&] { io::read_row_runs(f, "/rows", runs, cols, some.data()); });
  f.close();
  if (comm.is_root()) std::filesystem::remove(path);
  const double peak_mib = static_cast<double>(comm.max(util::peak_memory_bytes())) / (1 << 20);

  if (comm.is_root()) {
    const double gb = bytes / 1e9;
    const auto shown = [](const std::optional<std::int64_t>& b) {
      return b ? fmt::format("{} KiB", *b / 1024) : std::string("(not reported)");
    };
    fmt::print("ranks {} rows/rank {} cols {} ({:.0f} MiB) cb_buffer_size written {} read {}\n", comm.size(), rows,
               cols, bytes / (1 << 20), shown(written_buffer), shown(read_buffer));
    fmt::print("posix   write {:.3f} s {:.2f} GB/s  read {:.3f} s {:.2f} GB/s\n", posix_write_s, gb / posix_write_s,
               posix_read_s, gb / posix_read_s);
    fmt::print("mpiio   write {:.3f} s {:.2f} GB/s ({:.2f}x posix)  read {:.3f} s {:.2f} GB/s ({:.2f}x posix)\n",
               write_s, gb / write_s, posix_write_s / write_s, read_s, gb / read_s, posix_read_s / read_s);
    fmt::print("scattered {} rows/rank {:.3f} s; peak memory per rank (max) {:.1f} MiB\n", picks.size(), scattered_s,
               peak_mib);
    fmt::print("RESULT write_buffer={} read_buffer={} posix_write_s={:.4f} posix_read_s={:.4f} write_s={:.4f} "
               "read_s={:.4f} scattered_s={:.4f} peak_mib={:.1f} gb={:.4f}\n",
               written_buffer.value_or(-1), read_buffer.value_or(-1), posix_write_s, posix_read_s, write_s, read_s,
               scattered_s, peak_mib, gb);
  }
  return 0;
}

int main(int argc, char** argv) {
  mpi::Environment env(argc, argv);
  mpi::Comm comm;
  try {
    return measure(comm, argc, argv);
  } catch (const std::exception& e) {
    fmt::print(stderr, "rank {}: {}\n", comm.rank(), e.what());
    mpi::Environment::abort(2);
  }
}
