// Megatron indexed datasets written by every rank's share (io::write_indexed_dataset): the files are
// byte for byte the layout of docs/format.md, built here independently by one process from the
// whole dataset, at any rank count (ranks without sequences included); they read back through
// io::read_indexed_dataset; a failed write leaves no file.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <iterator>

#include "io/indexed_dataset.hpp"
#include "test_helpers.hpp"
#include "weave/error.hpp"
#include "weave/ids.hpp"

namespace weave {
namespace {

std::int64_t length_of(std::int64_t id) { return (id * 7) % 13; }  // zero-length sequences included
std::uint16_t token_of(std::int64_t id, std::int64_t j) { return static_cast<std::uint16_t>((id * 31 + j * 17) % 65536); }

std::vector<char> file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

template <typename T>
void append(std::vector<char>& out, T value) {
  const auto* p = reinterpret_cast<const char*>(&value);
  out.insert(out.end(), p, p + sizeof(T));
}

/// The documented layout, by one process: header, int32 lengths, int64 pointers, int64 document index.
std::pair<std::vector<char>, std::vector<char>> expected_files(std::int64_t n) {
  std::vector<char> idx = {'M', 'M', 'I', 'D', 'I', 'D', 'X', '\0', '\0'}, bin;
  append<std::uint64_t>(idx, 1);
  append<std::uint8_t>(idx, 8);  // uint16
  append<std::uint64_t>(idx, static_cast<std::uint64_t>(n));
  append<std::uint64_t>(idx, static_cast<std::uint64_t>(n + 1));
  for (std::int64_t id = 0; id < n; ++id) append<std::int32_t>(idx, static_cast<std::int32_t>(length_of(id)));
  std::int64_t at = 0;
  for (std::int64_t id = 0; id < n; ++id) append<std::int64_t>(idx, at), at += 2 * length_of(id);
  for (std::int64_t id = 0; id <= n; ++id) append<std::int64_t>(idx, id);
  for (std::int64_t id = 0; id < n; ++id)
    for (std::int64_t j = 0; j < length_of(id); ++j) append<std::uint16_t>(bin, token_of(id, j));
  return {idx, bin};
}

void write_and_check(const mpi::Comm& comm, std::int64_t n) {
  testing::ScratchDir dir(comm, "weave-indexed");
  const std::string prefix = dir.path("tokens");
  const BlockRange mine = block_range(n, comm.size(), comm.rank());
  std::vector<std::int64_t> lengths;
  std::vector<std::byte> tokens;
  for (std::int64_t id = mine.begin; id < mine.end; ++id) {
    lengths.push_back(length_of(id));
    for (std::int64_t j = 0; j < length_of(id); ++j) {
      const std::uint16_t t = token_of(id, j);
      const auto* p = reinterpret_cast<const std::byte*>(&t);
      tokens.insert(tokens.end(), p, p + 2);
    }
  }
  io::write_indexed_dataset(comm, prefix, *io::token_type_of_code(8), lengths, tokens);
  if (comm.is_root()) {
    const auto [idx, bin] = expected_files(n);
    EXPECT_EQ(file_bytes(prefix + ".idx"), idx) << n << " sequences";
    EXPECT_EQ(file_bytes(prefix + ".bin"), bin) << n << " sequences";
    EXPECT_FALSE(std::filesystem::exists(prefix + ".idx.tmp"));
  }
  const io::IndexedDatasetInfo info = io::read_indexed_dataset_info(comm, prefix);
  EXPECT_EQ(info.sequences, n);
  EXPECT_EQ(std::string(info.type.name), "uint16");
  const io::IndexedDatasetBlock back = io::read_indexed_dataset(comm, info, mine.begin, mine.size());
  EXPECT_EQ(back.lengths, lengths);
  comm.barrier();
}

TEST(IndexedDataset, WrittenByAllRanksIsTheDocumentedLayout) {
  mpi::Comm comm;
  write_and_check(comm, 1000);
  write_and_check(comm, 3);  // fewer sequences than ranks at 5 ranks
  write_and_check(comm, 0);
}

TEST(IndexedDataset, AWriteThatFailsLeavesNoFile) {
  mpi::Comm comm;
  testing::ScratchDir dir(comm, "weave-indexed");
  const std::string prefix = dir.path("tokens");
  // One rank's sequence is too long for the format's int32 lengths: every rank stops, nothing stays.
  std::vector<std::int64_t> lengths = {comm.rank() == comm.size() - 1 ? (std::int64_t{1} << 31) : 1};
  std::vector<std::byte> tokens(2);
  if (comm.rank() == comm.size() - 1) tokens.clear();
  try {
    io::write_indexed_dataset(comm, prefix, *io::token_type_of_code(8), lengths, tokens);
    ADD_FAILURE() << "a sequence of 2^31 tokens was written";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("int32"), std::string::npos) << e.what();
  }
  comm.barrier();
  for (const char* suffix : {".idx", ".bin", ".idx.tmp", ".bin.tmp"})
    EXPECT_FALSE(std::filesystem::exists(prefix + suffix)) << suffix;
}

}  // namespace
}  // namespace weave
