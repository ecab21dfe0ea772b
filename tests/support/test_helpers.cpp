#include "test_helpers.hpp"

#include <unistd.h>

#include <chrono>

namespace weave::testing {

ScratchDir::ScratchDir(const mpi::Comm& comm, const std::string& tag) : comm_(comm) {
  std::string name;
  if (comm.is_root()) {
    const auto stamp = std::chrono::steady_clock::now().time_since_epoch().count();
    dir_ = std::filesystem::temp_directory_path() / (tag + "-" + std::to_string(getpid()) + "-" + std::to_string(stamp));
    std::filesystem::create_directories(dir_);
    name = dir_.string();
  }
  dir_ = comm.bcast_string(name, 0);
}

ScratchDir::~ScratchDir() {
  comm_.barrier();
  if (comm_.is_root()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

}  // namespace weave::testing
