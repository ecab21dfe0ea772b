// One step of a ring: send a block of rows to the right neighbour and receive the next block from
// the left, nonblocking, so the caller computes on the current block while the next one travels.
#pragma once

#include <cstdint>
#include <memory>

#include "mpi/comm.hpp"

namespace weave::mpi {

class RingShift {
 public:
  /// Rows of `row_length` floats; a row is one MPI datatype, so counts stay far below 2^31.
  RingShift(const Comm& comm, std::int64_t row_length);
  RingShift(const RingShift&) = delete;
  RingShift& operator=(const RingShift&) = delete;
  ~RingShift();

  int right() const { return (comm_.rank() + 1) % comm_.size(); }
  int left() const { return (comm_.rank() + comm_.size() - 1) % comm_.size(); }

  /// Starts sending send[0..send_rows) right and receiving recv[0..recv_rows) from the left.
  void start(const float* send, std::int64_t send_rows, float* recv, std::int64_t recv_rows);
  /// Lets MPI move data while the caller computes (call it between tiles of work).
  void poll();
  /// Completes the step; returns the seconds spent waiting.
  double wait();

  double bytes_sent() const { return bytes_sent_; }

 private:
  const Comm& comm_;
  std::int64_t row_bytes_;
  struct Requests;  // the row datatype and the two requests (ring.cpp)
  std::unique_ptr<Requests> mpi_;
  double bytes_sent_ = 0;
};

}  // namespace weave::mpi
