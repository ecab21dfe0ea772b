// Helpers shared by the MPI tests: a scratch folder every rank agrees on, and gathering.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "mpi/comm.hpp"

namespace weave::testing {

/// A fresh folder under the system temp dir, created by rank 0 and named the same on every rank;
/// removed when the object goes out of scope.
class ScratchDir {
 public:
  explicit ScratchDir(const mpi::Comm& comm, const std::string& tag = "weave-test");
  ~ScratchDir();
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

 private:
  const mpi::Comm& comm_;
  std::filesystem::path dir_;
};

/// All ranks' values concatenated in rank order, on every rank.
template <typename T>
std::vector<T> allgather_concat(const mpi::Comm& comm, const std::vector<T>& local) {
  std::vector<T> on_root = comm.gatherv<T>(std::span<const T>(local), 0);
  auto n = comm.bcast_value<std::int64_t>(static_cast<std::int64_t>(on_root.size()), 0);
  on_root.resize(static_cast<std::size_t>(n));
  if (n > 0) comm.bcast(std::span<T>(on_root), 0);
  return on_root;
}

}  // namespace weave::testing
