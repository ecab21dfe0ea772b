// The MPI-IO hint Weave gives files opened to read (mpi/file_hints.hpp): the collective-buffering
// buffer is bounded at 4 MiB, so an aggregator rank does not hold Open MPI's 32 MiB default for a
// read of scattered rows; files written keep the MPI's size (faster writes), and the user's own MPI
// setting, when the environment has one, is left alone.
#include <gtest/gtest.h>

#include <cstdlib>
#include <optional>

#include "io/hdf5.hpp"
#include "test_helpers.hpp"

namespace weave {
namespace {

constexpr std::int64_t kWeaveBufferBytes = std::int64_t{4} << 20;  // mpi::kCollectiveBufferBytes

/// The buffer a freshly created file reports, after a collective write and read through it.
std::optional<std::int64_t> buffer_of_new_file(const mpi::Comm& comm, const std::string& path) {
  io::File f = io::File::create(comm, path);
  io::create_dataset(f, "/x", io::StoredType::kInt64, {comm.size()});
  const std::int64_t mine = 10 + comm.rank();
  io::write_rows(f, "/x", comm.rank(), 1, 1, &mine);
  std::int64_t back = -1;
  io::read_rows(f, "/x", comm.rank(), 1, 1, &back);
  EXPECT_EQ(back, mine);
  return f.collective_buffer_bytes();
}

TEST(FileHints, FilesOpenedToReadGetTheBoundedCollectiveBuffer) {
  mpi::Comm comm;
  testing::ScratchDir dir(comm);
  ASSERT_EQ(std::getenv("OMPI_MCA_io_ompio_bytes_per_agg"), nullptr) << "run without the user's MPI-IO setting";
  EXPECT_NE(buffer_of_new_file(comm, dir.path("a.h5")), kWeaveBufferBytes) << "a written file keeps the MPI's size";
  io::File opened = io::File::open(comm, dir.path("a.h5"));
  const std::optional<std::int64_t> reported = opened.collective_buffer_bytes();
  ASSERT_TRUE(reported.has_value()) << "the MPI-IO layer reports no cb_buffer_size";
  EXPECT_EQ(*reported, kWeaveBufferBytes);
  std::int64_t row = -1;
  io::read_rows(opened, "/x", comm.rank(), 1, 1, &row);
  EXPECT_EQ(row, 10 + comm.rank());
}

TEST(FileHints, TheUsersOwnSettingIsNotOverridden) {
  mpi::Comm comm;
  testing::ScratchDir dir(comm);
  // Open MPI read its MCA parameters at MPI_Init, so the library keeps its default here; what is
  // checked is that Weave no longer asks for its own size once the variable is set.
  buffer_of_new_file(comm, dir.path("b.h5"));
  ASSERT_EQ(setenv("OMPI_MCA_io_ompio_bytes_per_agg", "8388608", 1), 0);
  const std::optional<std::int64_t> reported = io::File::open(comm, dir.path("b.h5")).collective_buffer_bytes();
  unsetenv("OMPI_MCA_io_ompio_bytes_per_agg");
  EXPECT_NE(reported, kWeaveBufferBytes);
}

}  // namespace
}  // namespace weave
