// GoogleTest main for MPI tests: every rank runs every test; rank 0 prints the usual output, the
// other ranks print their failures prefixed with their rank; the exit status is the same on all
// ranks (non-zero if any rank failed). Assertions throw instead of aborting, so tests can check them.
#include <mpi.h>

#include <cstdio>

#include <gtest/gtest.h>

#include "weave/error.hpp"

namespace {

/// ctest's SKIP_RETURN_CODE for every MPI test (cmake/WeaveTesting.cmake).
constexpr int kSkippedExitStatus = 77;

class RankFailurePrinter : public testing::EmptyTestEventListener {
 public:
  explicit RankFailurePrinter(int rank) : rank_(rank) {}
  void OnTestPartResult(const testing::TestPartResult& r) override {
    if (!r.failed()) return;
    std::fprintf(stderr, "[rank %d] %s:%d: failure\n%s\n", rank_, r.file_name() ? r.file_name() : "?", r.line_number(),
                 r.summary());
    std::fflush(stderr);
  }

 private:
  int rank_;
};

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  testing::InitGoogleTest(&argc, argv);
  weave::detail::set_assertions_throw(true);
  if (rank != 0) {
    auto& listeners = testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
    listeners.Append(new RankFailurePrinter(rank));
  }
  const testing::UnitTest& unit = *testing::UnitTest::GetInstance();
  int failed = RUN_ALL_TESTS() != 0 ? 1 : 0;
  // A test program that runs nothing is a broken registration, not a pass.
  if (unit.test_to_run_count() == 0 && testing::GTEST_FLAG(filter) == "*") {
    if (rank == 0) std::fprintf(stderr, "no tests ran\n");
    failed = 1;
  }
  // Every test skipped (say, GPU tests without a GPU): exit 77, which ctest reports as skipped.
  const int all_skipped = unit.skipped_test_count() > 0 && unit.successful_test_count() == 0;
  int any_failed = 0, every_rank_skipped = 0;
  MPI_Allreduce(&failed, &any_failed, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  MPI_Allreduce(&all_skipped, &every_rank_skipped, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  if (rank == 0 && any_failed && !failed) std::fprintf(stderr, "FAILED on another rank (see [rank N] lines above)\n");
  const int status = any_failed ? 1 : every_rank_skipped ? kSkippedExitStatus : 0;
  MPI_Finalize();
  return status;
}
