#include "mpi/comm.hpp"

#include <climits>
#include <utility>

#include <fmt/format.h>

#include "weave/error.hpp"

namespace weave::mpi {

void check(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, text, &len);
  throw InternalError(fmt::format("{} failed: {}", what, std::string(text, static_cast<std::size_t>(len))));
}

Comm::Comm(MPI_Comm comm) : comm_(comm) {
  if (comm_ != MPI_COMM_NULL) {
    check(MPI_Comm_rank(comm_, &rank_), "MPI_Comm_rank");
    check(MPI_Comm_size(comm_, &size_), "MPI_Comm_size");
  }
}

Comm::Comm(Comm&& other) noexcept
    : comm_(std::exchange(other.comm_, MPI_COMM_NULL)),
      owned_(std::exchange(other.owned_, false)),
      rank_(other.rank_),
      size_(other.size_) {}

Comm& Comm::operator=(Comm&& other) noexcept {
  if (this != &other) {
    if (owned_ && comm_ != MPI_COMM_NULL) MPI_Comm_free(&comm_);
    comm_ = std::exchange(other.comm_, MPI_COMM_NULL);
    owned_ = std::exchange(other.owned_, false);
    rank_ = other.rank_;
    size_ = other.size_;
  }
  return *this;
}

Comm::~Comm() {
  if (owned_ && comm_ != MPI_COMM_NULL) MPI_Comm_free(&comm_);
}

Comm Comm::split(int color) const {
  MPI_Comm out = MPI_COMM_NULL;
  check(MPI_Comm_split(comm_, color, rank_, &out), "MPI_Comm_split");
  Comm c(out);
  c.owned_ = out != MPI_COMM_NULL;
  return c;
}

void Comm::barrier() const { check(MPI_Barrier(comm_), "MPI_Barrier"); }

std::string Comm::bcast_string(const std::string& s, int root) const {
  auto n = bcast_value<std::int64_t>(static_cast<std::int64_t>(s.size()), root);
  std::string out = rank_ == root ? s : std::string(static_cast<std::size_t>(n), '\0');
  if (n > 0) bcast(std::span<char>(out.data(), out.size()), root);
  return out;
}

std::vector<std::string> Comm::bcast_strings(const std::vector<std::string>& v, int root) const {
  auto n = bcast_value<std::int64_t>(static_cast<std::int64_t>(v.size()), root);
  std::vector<std::string> out(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) out[i] = bcast_string(rank_ == root ? v[i] : std::string(), root);
  return out;
}

std::vector<std::int64_t> Comm::alltoall_counts(const std::vector<std::int64_t>& send_counts) const {
  std::vector<std::int64_t> recv(static_cast<std::size_t>(size_));
  check(MPI_Alltoall(send_counts.data(), 1, MPI_INT64_T, recv.data(), 1, MPI_INT64_T, comm_), "MPI_Alltoall");
  return recv;
}

void Comm::alltoallv_bytes(const void* send, const std::vector<std::int64_t>& send_counts, void* recv,
                           const std::vector<std::int64_t>& recv_counts, MPI_Datatype type) const {
  std::vector<int> sc(send_counts.size()), rc(recv_counts.size()), sd(send_counts.size()), rd(recv_counts.size());
  std::int64_t s_at = 0, r_at = 0;
  for (std::size_t r = 0; r < send_counts.size(); ++r) {
    // MPI-3 counts are int; callers batch their exchanges far below this.
    if (send_counts[r] > INT_MAX || recv_counts[r] > INT_MAX || s_at > INT_MAX || r_at > INT_MAX)
      throw InternalError("alltoallv: more than 2^31 elements in one exchange; batch it");
    sc[r] = static_cast<int>(send_counts[r]);
    rc[r] = static_cast<int>(recv_counts[r]);
    sd[r] = static_cast<int>(s_at);
    rd[r] = static_cast<int>(r_at);
    s_at += send_counts[r];
    r_at += recv_counts[r];
  }
  check(MPI_Alltoallv(send, sc.data(), sd.data(), type, recv, rc.data(), rd.data(), type, comm_), "MPI_Alltoallv");
}

}  // namespace weave::mpi
