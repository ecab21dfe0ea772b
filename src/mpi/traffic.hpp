// What this process has moved through Comm and RingShift: the counters behind the report's
// "traffic" section (bytes and messages per rank, the scaling study's measure of communication).
#pragma once

#include <cstdint>

namespace weave::mpi {

struct Traffic {
  double bytes_sent = 0;          ///< point to point (exchanges, gathers, the kNN ring), to other ranks
  double bytes_received = 0;      ///< point to point, from other ranks
  std::int64_t messages_sent = 0; ///< point-to-point messages to other ranks (a piece of a large one counts)
  std::int64_t collectives = 0;   ///< calls of collectives (reductions, broadcasts, count exchanges)
  double collective_bytes = 0;    ///< this rank's payload in those calls

  Traffic operator-(const Traffic& o) const {
    return {bytes_sent - o.bytes_sent, bytes_received - o.bytes_received, messages_sent - o.messages_sent,
            collectives - o.collectives, collective_bytes - o.collective_bytes};
  }
};

/// This process's counters since it started (one process is one rank of MPI_COMM_WORLD).
Traffic& traffic();

/// Records one collective call with `bytes` of this rank's payload.
inline void count_collective(double bytes) {
  ++traffic().collectives;
  traffic().collective_bytes += bytes;
}

}  // namespace weave::mpi
