#include "io/atomic_output.hpp"

#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include <fmt/format.h>

#include "mpi/collective_error.hpp"
#include "weave/error.hpp"

namespace weave::io {

namespace fs = std::filesystem;

AtomicOutput::AtomicOutput(const mpi::Comm& comm, std::string final_path)
    : comm_(comm), final_path_(std::move(final_path)), tmp_path_(final_path_ + ".tmp") {
  mpi::collectively(comm_, [&] {
    if (final_path_.empty()) throw UserError("no output file given");
    if (!comm_.is_root()) return;
    const fs::path parent = fs::absolute(final_path_).parent_path();
    std::error_code ec;
    if (!fs::is_directory(parent, ec))
      throw UserError(fmt::format("{}: output folder {} does not exist", final_path_, parent.string()));
    if (fs::is_directory(final_path_, ec))
      throw UserError(fmt::format("{}: is a directory; name an output file", final_path_));
    fs::remove(tmp_path_, ec);  // left by a killed run
  });
}

AtomicOutput::~AtomicOutput() {
  if (committed_) return;
  // Every rank gets here on the failure path (errors are agreed collectively), but a barrier could
  // hang if one did not; rank 0 removes the file without waiting. Open MPI-IO handles elsewhere
  // do not stop an unlink on POSIX file systems.
  if (comm_.is_root()) {
    std::error_code ec;
    fs::remove(tmp_path_, ec);
  }
}

void AtomicOutput::commit() {
  mpi::collectively(comm_, [&] {
    // Test hook: WEAVE_INJECT_FAILURE=<rank> makes that rank fail just before the rename, to test
    // that nothing is lost when one rank fails at the last moment.
    if (const char* inject = std::getenv("WEAVE_INJECT_FAILURE"); inject && std::atoi(inject) == comm_.rank())
      throw UserError(fmt::format("{}: injected failure on rank {} (WEAVE_INJECT_FAILURE)", final_path_, comm_.rank()));
  });
  mpi::collectively(comm_, [&] {
    if (!comm_.is_root()) return;
    std::error_code ec;
    fs::rename(tmp_path_, final_path_, ec);
    if (ec) throw UserError(fmt::format("{}: cannot rename {} into place: {}", final_path_, tmp_path_, ec.message()));
  });
  committed_ = true;
}

}  // namespace weave::io
