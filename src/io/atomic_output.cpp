#include "io/atomic_output.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <filesystem>

#include <fmt/format.h>

#include "mpi/collective_error.hpp"
#include "weave/error.hpp"

namespace weave::io {

namespace fs = std::filesystem;

namespace {

std::string gib(double bytes) { return fmt::format("{:.2f} GiB", bytes / (1024.0 * 1024.0 * 1024.0)); }

/// The checks of check_output_path, on one process.
void check_output_path_here(const std::string& path, double estimated_bytes) {
  if (path.empty()) throw UserError("no output file given");
  const fs::path parent = fs::absolute(path).parent_path();
  std::error_code ec;
  if (!fs::is_directory(parent, ec))
    throw UserError(fmt::format("{}: output folder {} does not exist", path, parent.string()));
  if (fs::is_directory(path, ec)) throw UserError(fmt::format("{}: is a directory; name an output file", path));
  const std::string probe = path + ".tmp";
  if (std::FILE* f = std::fopen(probe.c_str(), "wb")) {
    std::fclose(f);
    fs::remove(probe, ec);
  } else {
    throw UserError(fmt::format("{}: cannot create a file in the output folder {}: {}", path, parent.string(),
                                std::strerror(errno)));
  }
  if (estimated_bytes <= 0) return;
  const fs::space_info space = fs::space(parent, ec);
  if (!ec && space.available != static_cast<std::uintmax_t>(-1) && static_cast<double>(space.available) < estimated_bytes)
    throw UserError(fmt::format("{}: the output needs about {}, but the file system of {} has {} free", path,
                                gib(estimated_bytes), parent.string(), gib(static_cast<double>(space.available))));
}

}  // namespace

void check_output_path(const mpi::Comm& comm, const std::string& path, double estimated_bytes) {
  mpi::collectively(comm, [&] {
    if (comm.is_root()) check_output_path_here(path, estimated_bytes);
  });
}

AtomicOutput::AtomicOutput(const mpi::Comm& comm, std::string final_path)
    : comm_(comm), final_path_(std::move(final_path)), tmp_path_(final_path_ + ".tmp") {
  mpi::collectively(comm_, [&] {
    if (!comm_.is_root()) return;
    check_output_path_here(final_path_, 0);  // the stage checked before computing; the folder may have gone since
    std::error_code ec;
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
