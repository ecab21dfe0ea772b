#include "mpi/comm.hpp"

#include <algorithm>
#include <climits>
#include <cstring>
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

void Comm::barrier() const {
  count_collective(0);
  check(MPI_Barrier(comm_), "MPI_Barrier");
}

std::pair<int, int> Comm::node_rank_and_size() const {
  MPI_Comm node = MPI_COMM_NULL;
  check(MPI_Comm_split_type(comm_, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node), "MPI_Comm_split_type");
  int local_rank = 0, local_size = 1;
  check(MPI_Comm_rank(node, &local_rank), "MPI_Comm_rank");
  check(MPI_Comm_size(node, &local_size), "MPI_Comm_size");
  check(MPI_Comm_free(&node), "MPI_Comm_free");
  return {local_rank, local_size};
}

std::string Comm::processor_name() {
  char host[MPI_MAX_PROCESSOR_NAME] = {};
  int length = 0;
  check(MPI_Get_processor_name(host, &length), "MPI_Get_processor_name");
  return std::string(host, static_cast<std::size_t>(length));
}

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
  count_collective(static_cast<double>(size_) * sizeof(std::int64_t));
  check(MPI_Alltoall(send_counts.data(), 1, MPI_INT64_T, recv.data(), 1, MPI_INT64_T, comm_), "MPI_Alltoall");
  return recv;
}

namespace {
std::int64_t max_piece = std::int64_t{1} << 30;  // elements per message: int counts, with room
constexpr int kTag = 7001;                        // the exchanges' point-to-point messages
}  // namespace

std::int64_t Comm::max_piece_elements() { return max_piece; }
void Comm::set_max_piece_elements(std::int64_t elements) { max_piece = std::max<std::int64_t>(1, elements); }

void Comm::exchange(const std::vector<const void*>& send, const std::vector<std::int64_t>& send_counts,
                    const std::vector<void*>& recv, const std::vector<std::int64_t>& recv_counts,
                    MPI_Datatype type) const {
  int size = 0;
  check(MPI_Type_size(type, &size), "MPI_Type_size");
  const auto bytes = static_cast<std::int64_t>(size);
  std::vector<MPI_Request> requests;
  // Receives first, then sends; a message of more than max_piece elements goes in pieces, matched
  // in the order they are posted (messages between two ranks with one tag do not overtake).
  for (int r = 0; r < size_; ++r) {
    if (r == rank_ || recv_counts[r] == 0) continue;
    for (std::int64_t at = 0; at < recv_counts[r]; at += max_piece) {
      const auto n = static_cast<int>(std::min(max_piece, recv_counts[r] - at));
      requests.emplace_back();
      check(MPI_Irecv(static_cast<char*>(recv[r]) + at * bytes, n, type, r, kTag, comm_, &requests.back()),
            "MPI_Irecv");
      traffic().bytes_received += static_cast<double>(n) * static_cast<double>(bytes);
    }
  }
  for (int r = 0; r < size_; ++r) {
    if (r == rank_ || send_counts[r] == 0) continue;
    for (std::int64_t at = 0; at < send_counts[r]; at += max_piece) {
      const auto n = static_cast<int>(std::min(max_piece, send_counts[r] - at));
      requests.emplace_back();
      check(MPI_Isend(static_cast<const char*>(send[r]) + at * bytes, n, type, r, kTag, comm_,
                      &requests.back()),
            "MPI_Isend");
      traffic().bytes_sent += static_cast<double>(n) * static_cast<double>(bytes);
      ++traffic().messages_sent;
    }
  }
  if (send_counts[rank_] > 0)
    std::memcpy(recv[rank_], send[rank_], static_cast<std::size_t>(send_counts[rank_] * bytes));
  if (!requests.empty())
    check(MPI_Waitall(static_cast<int>(requests.size()), requests.data(), MPI_STATUSES_IGNORE), "MPI_Waitall");
}

}  // namespace weave::mpi
