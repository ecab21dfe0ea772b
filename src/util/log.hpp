// Printing from rank 0 only, so a job of 1000 ranks prints each line once.
#pragma once

#include <cstdio>

#include <fmt/format.h>

#include "mpi/comm.hpp"

namespace weave::util {

template <typename... Args>
void print_root(const mpi::Comm& comm, fmt::format_string<Args...> f, Args&&... args) {
  if (!comm.is_root()) return;
  fmt::print(stdout, f, std::forward<Args>(args)...);
  std::fflush(stdout);
}

/// Human-readable byte counts: "12.3 MiB".
std::string format_bytes(double bytes);
/// Human-readable durations: "3.2 s", "4m05s", "1h02m".
std::string format_seconds(double seconds);

}  // namespace weave::util
