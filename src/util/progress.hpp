// Progress lines on rank 0, aggregated over ranks: "[knn] 45.1% 451000/1000000 docs 8.1k docs/s ETA 1m08s".
//
// advance() is collective (an MPI_Allreduce of the work done): call it at the same points on every
// rank, e.g. once per ring step or per chunk. It prints at most once per interval.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "mpi/comm.hpp"

namespace weave::util {

/// Seconds on a monotonic clock, for progress intervals and phase timings.
inline double wall_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

class Progress {
 public:
  Progress(const mpi::Comm& comm, std::string label, std::int64_t total, std::string unit, bool quiet,
           double interval_seconds = 2.0);
  /// Collective: adds this rank's newly done work and maybe prints.
  void advance(std::int64_t local_done);
  /// Collective: prints the final line (total, time, mean rate).
  void finish();

 private:
  using Clock = std::chrono::steady_clock;
  const mpi::Comm& comm_;
  std::string label_, unit_;
  std::int64_t total_;
  std::int64_t done_ = 0;
  bool quiet_;
  double interval_;
  Clock::time_point start_, last_print_;
};

}  // namespace weave::util
