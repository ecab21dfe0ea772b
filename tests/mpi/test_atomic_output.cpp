// The output protocol: NAME.tmp while writing, renamed only when every rank succeeded; a failure
// on any rank leaves an existing NAME untouched and removes NAME.tmp.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "io/atomic_output.hpp"
#include "io/hdf5.hpp"
#include "mpi/collective_error.hpp"
#include "test_helpers.hpp"
#include "weave/error.hpp"

namespace weave {
namespace {

namespace fs = std::filesystem;

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

/// Writes one int64 per rank into `path` through the protocol; `fail_rank` throws mid-write.
void write_through_protocol(const mpi::Comm& comm, const std::string& path, int fail_rank) {
  io::AtomicOutput out(comm, path);
  {
    io::File f = io::File::create(comm, out.tmp_path());
    io::create_dataset(f, "/x", io::StoredType::kInt64, {comm.size()});
    const std::int64_t v = comm.rank();
    io::write_rows(f, "/x", comm.rank(), 1, 1, &v);
    f.close();
  }
  EXPECT_TRUE(fs::exists(out.tmp_path()));
  mpi::collectively(comm, [&] {
    if (comm.rank() == fail_rank) throw UserError("rank failed on purpose");
  });
  out.commit();
}

TEST(AtomicOutput, SuccessRenamesTheTmpFile) {
  mpi::Comm comm;
  testing::ScratchDir dir(comm);
  const std::string path = dir.path("out.h5");
  write_through_protocol(comm, path, -1);
  comm.barrier();
  EXPECT_TRUE(fs::exists(path));
  EXPECT_FALSE(fs::exists(path + ".tmp"));
  std::vector<std::int64_t> x(static_cast<std::size_t>(comm.size()));
  io::File f = io::File::open(comm, path);
  io::read_rows(f, "/x", 0, comm.size(), 1, x.data());
  for (int r = 0; r < comm.size(); ++r) EXPECT_EQ(x[r], r);
}

TEST(AtomicOutput, AFailingRankLeavesTheOldOutputAndNoTmp) {
  mpi::Comm comm;
  testing::ScratchDir dir(comm);
  const std::string path = dir.path("out.h5");
  if (comm.is_root()) std::ofstream(path) << "the previous good output";
  comm.barrier();
  EXPECT_THROW(write_through_protocol(comm, path, comm.size() - 1), UserError);
  comm.barrier();
  EXPECT_EQ(slurp(path), "the previous good output");
  EXPECT_FALSE(fs::exists(path + ".tmp"));
}

TEST(AtomicOutput, AFailureAtCommitTimeLosesNothing) {
  mpi::Comm comm;
  testing::ScratchDir dir(comm);
  const std::string path = dir.path("out.h5");
  if (comm.is_root()) std::ofstream(path) << "old";
  comm.barrier();
  setenv("WEAVE_INJECT_FAILURE", std::to_string(comm.size() - 1).c_str(), 1);
  try {
    write_through_protocol(comm, path, -1);
    ADD_FAILURE() << "commit should have failed";
  } catch (const UserError& e) {
    EXPECT_TRUE(e.collective());
    EXPECT_NE(std::string(e.what()).find("injected failure"), std::string::npos);
  }
  unsetenv("WEAVE_INJECT_FAILURE");
  comm.barrier();
  EXPECT_EQ(slurp(path), "old");
  EXPECT_FALSE(fs::exists(path + ".tmp"));
}

TEST(AtomicOutput, MissingFolderIsAUserError) {
  mpi::Comm comm;
  testing::ScratchDir dir(comm);
  EXPECT_THROW(io::AtomicOutput(comm, dir.path("no/such/folder/out.h5")), UserError);
}

}  // namespace
}  // namespace weave
