// Printing from rank 0 only, so a job of 1000 ranks prints each line once.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

#include <fmt/format.h>

#include "mpi/comm.hpp"

namespace weave::util {

template <typename... Args>
void print_root(const mpi::Comm& comm, fmt::format_string<Args...> f, Args&&... args) {
  if (!comm.is_root()) return;
  fmt::print(stdout, f, std::forward<Args>(args)...);
  std::fflush(stdout);
}

/// Warnings: rank 0, to stderr (stdout stays for results and progress).
template <typename... Args>
void warn_root(const mpi::Comm& comm, fmt::format_string<Args...> f, Args&&... args) {
  if (!comm.is_root()) return;
  fmt::print(stderr, f, std::forward<Args>(args)...);
  std::fflush(stderr);
}

/// "1 document", "2 documents": a count with its noun, in the plural unless it is one.
inline std::string count_of(std::int64_t n, const char* noun) {
  return fmt::format("{} {}{}", n, noun, n == 1 ? "" : "s");
}

/// Human-readable byte counts: "12.3 MiB".
std::string format_bytes(double bytes);
/// Human-readable durations: "3.2 s", "4m05s", "1h02m".
std::string format_seconds(double seconds);

}  // namespace weave::util
