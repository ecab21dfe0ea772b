// Row blocks written by io::write_rows: collective for HDF5, each rank's data by independent MPI-IO
// calls (no aggregator rank). Whatever the split of the rows over the ranks — ranks without rows,
// uneven blocks, chunks that straddle two ranks' blocks — the file reads back as written.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "io/hdf5.hpp"
#include "test_helpers.hpp"
#include "weave/ids.hpp"

namespace weave {
namespace {

/// The value of element (row, col): every element distinct.
std::int64_t value_of(std::int64_t row, std::int64_t col) { return row * 1000 + col * 7 + 3; }

/// Writes `rows` x `cols` int64 (and the same as float32) with each rank writing the block that
/// `block_of(rank)` names, then every rank reads the whole datasets back and compares.
template <typename BlockOf>
void write_and_read_back(const mpi::Comm& comm, std::int64_t rows, std::int64_t cols, std::int64_t chunk_rows,
                         BlockOf&& block_of) {
  testing::ScratchDir dir(comm);
  const std::string path = dir.path("rows.h5");
  const auto [begin, count] = block_of(comm.rank());
  {
    io::File f = io::File::create(comm, path);
    io::create_dataset(f, "/ints", io::StoredType::kInt64, {rows, cols}, chunk_rows);
    io::create_dataset(f, "/floats", io::StoredType::kFloat32, {rows, cols}, chunk_rows);
    std::vector<std::int64_t> ints;
    std::vector<float> floats;
    for (std::int64_t r = begin; r < begin + count; ++r)
      for (std::int64_t c = 0; c < cols; ++c) {
        ints.push_back(value_of(r, c));
        floats.push_back(static_cast<float>(value_of(r, c)));
      }
    io::write_rows(f, "/ints", begin, count, cols, ints.data());
    io::write_rows(f, "/floats", begin, count, cols, floats.data());
    f.close();
  }
  std::vector<std::int64_t> ints(static_cast<std::size_t>(rows * cols), -1);
  std::vector<float> floats(static_cast<std::size_t>(rows * cols), -1.0f);
  io::File f = io::File::open(comm, path);
  io::read_rows(f, "/ints", 0, rows, cols, ints.data());
  io::read_rows(f, "/floats", 0, rows, cols, floats.data());
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t c = 0; c < cols; ++c) {
      ASSERT_EQ(ints[r * cols + c], value_of(r, c)) << "row " << r << " col " << c;
      ASSERT_EQ(floats[r * cols + c], static_cast<float>(value_of(r, c))) << "row " << r << " col " << c;
    }
}

struct Block {
  std::int64_t begin, count;
};

TEST(RowWrites, BlocksOfTheRankSplitReadBack) {
  mpi::Comm comm;
  for (const std::int64_t rows : {std::int64_t{1237}, std::int64_t{3}}) {  // at 5 ranks, 3 rows leave two ranks none
    for (const std::int64_t chunk : {std::int64_t{0}, std::int64_t{100}}) {
      write_and_read_back(comm, rows, 7, chunk, [&](int rank) {
        const BlockRange b = block_range(rows, comm.size(), rank);
        return Block{b.begin, b.size()};
      });
    }
  }
}

TEST(RowWrites, UnevenBlocksInReverseRankOrderReadBack) {
  // Rank r writes the r-th block from the end, of r + 1 units of 37 rows: unequal sizes, blocks not
  // in rank order, chunk boundaries inside blocks.
  mpi::Comm comm;
  const int p = comm.size();
  std::int64_t rows = 0;
  for (int r = 0; r < p; ++r) rows += 37 * (r + 1);
  write_and_read_back(comm, rows, 3, 50, [&](int rank) {
    std::int64_t begin = 0;
    for (int r = p - 1; r > rank; --r) begin += 37 * (r + 1);
    return Block{begin, 37 * (rank + 1)};
  });
}

}  // namespace
}  // namespace weave
