#include "mpi/ring.hpp"

#include <climits>

#include "mpi/raw_comm.hpp"
#include "weave/error.hpp"

namespace weave::mpi {

namespace {
constexpr int kRingTag = 7301;
}

struct RingShift::Requests {
  MPI_Datatype row_type = MPI_DATATYPE_NULL;
  MPI_Request requests[2] = {MPI_REQUEST_NULL, MPI_REQUEST_NULL};
};

RingShift::RingShift(const Comm& comm, std::int64_t row_length)
    : comm_(comm), row_bytes_(row_length * static_cast<std::int64_t>(sizeof(float))), mpi_(std::make_unique<Requests>()) {
  WEAVE_ASSERT(row_length > 0 && row_length <= INT_MAX, "RingShift: bad row length");
  check(MPI_Type_contiguous(static_cast<int>(row_length), MPI_FLOAT, &mpi_->row_type), "MPI_Type_contiguous");
  check(MPI_Type_commit(&mpi_->row_type), "MPI_Type_commit");
}

RingShift::~RingShift() {
  MPI_Waitall(2, mpi_->requests, MPI_STATUSES_IGNORE);
  if (mpi_->row_type != MPI_DATATYPE_NULL) MPI_Type_free(&mpi_->row_type);
}

void RingShift::start(const float* send, std::int64_t send_rows, float* recv, std::int64_t recv_rows) {
  WEAVE_ASSERT(send_rows <= INT_MAX && recv_rows <= INT_MAX, "RingShift: block too large for one message");
  check(MPI_Irecv(recv, static_cast<int>(recv_rows), mpi_->row_type, left(), kRingTag, RawComm::of(comm_), &mpi_->requests[0]),
        "MPI_Irecv");
  check(MPI_Isend(send, static_cast<int>(send_rows), mpi_->row_type, right(), kRingTag, RawComm::of(comm_), &mpi_->requests[1]),
        "MPI_Isend");
  bytes_sent_ += static_cast<double>(send_rows * row_bytes_);
  if (right() != comm_.rank()) {
    traffic().bytes_sent += static_cast<double>(send_rows * row_bytes_);
    traffic().bytes_received += static_cast<double>(recv_rows * row_bytes_);
    ++traffic().messages_sent;
  }
}

void RingShift::poll() {
  int done = 0;
  check(MPI_Testall(2, mpi_->requests, &done, MPI_STATUSES_IGNORE), "MPI_Testall");
}

double RingShift::wait() {
  const double t0 = MPI_Wtime();
  check(MPI_Waitall(2, mpi_->requests, MPI_STATUSES_IGNORE), "MPI_Waitall");
  return MPI_Wtime() - t0;
}

}  // namespace weave::mpi
