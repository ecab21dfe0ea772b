#include "mpi/comm.hpp"

#include <algorithm>
#include <climits>
#include <cstring>
#include <utility>

#include <fmt/format.h>

#include "mpi/raw_comm.hpp"
#include "weave/error.hpp"

namespace weave::mpi {

namespace {

static_assert(sizeof(MPI_Comm) <= sizeof(std::uintptr_t), "an MPI_Comm must fit the Comm's handle");

std::uintptr_t handle_of(MPI_Comm comm) {
  std::uintptr_t handle = 0;
  std::memcpy(&handle, &comm, sizeof comm);
  return handle;
}

MPI_Comm comm_of(std::uintptr_t handle) {
  MPI_Comm comm;
  std::memcpy(&comm, &handle, sizeof comm);
  return comm;
}

MPI_Datatype datatype(ElementType type) {
  switch (type) {
    case ElementType::kFloat: return MPI_FLOAT;
    case ElementType::kDouble: return MPI_DOUBLE;
    case ElementType::kChar: return MPI_CHAR;
    case ElementType::kInt8: return MPI_INT8_T;
    case ElementType::kUint8: return MPI_UINT8_T;
    case ElementType::kInt16: return MPI_INT16_T;
    case ElementType::kUint16: return MPI_UINT16_T;
    case ElementType::kInt32: return MPI_INT32_T;
    case ElementType::kUint32: return MPI_UINT32_T;
    case ElementType::kInt64: return MPI_INT64_T;
    case ElementType::kUint64: return MPI_UINT64_T;
  }
  throw InternalError("mpi: unknown element type");
}

MPI_Op operation(ReduceOp op) {
  switch (op) {
    case ReduceOp::kSum: return MPI_SUM;
    case ReduceOp::kMin: return MPI_MIN;
    case ReduceOp::kMax: return MPI_MAX;
  }
  throw InternalError("mpi: unknown reduction");
}

double bytes_of(int n, ElementType type) {
  int size = 0;
  check(MPI_Type_size(datatype(type), &size), "MPI_Type_size");
  return static_cast<double>(n) * size;
}

}  // namespace

MPI_Comm RawComm::of(const Comm& comm) { return comm_of(comm.handle_); }

void check(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, text, &len);
  throw InternalError(fmt::format("{} failed: {}", what, std::string(text, static_cast<std::size_t>(len))));
}

Comm::Comm(FromHandle, std::uintptr_t handle, bool owned) : handle_(handle), owned_(owned) {
  const MPI_Comm comm = comm_of(handle_);
  if (comm != MPI_COMM_NULL) {
    check(MPI_Comm_rank(comm, &rank_), "MPI_Comm_rank");
    check(MPI_Comm_size(comm, &size_), "MPI_Comm_size");
  }
}

Comm::Comm() : Comm(FromHandle{}, handle_of(MPI_COMM_WORLD), false) {}

Comm Comm::self() { return Comm(FromHandle{}, handle_of(MPI_COMM_SELF), false); }

Comm::Comm(Comm&& other) noexcept
    : handle_(std::exchange(other.handle_, handle_of(MPI_COMM_NULL))),
      owned_(std::exchange(other.owned_, false)),
      rank_(other.rank_),
      size_(other.size_) {}

namespace {
void free_if_owned(std::uintptr_t handle, bool owned) {
  MPI_Comm comm = comm_of(handle);
  if (owned && comm != MPI_COMM_NULL) MPI_Comm_free(&comm);
}
}  // namespace

Comm& Comm::operator=(Comm&& other) noexcept {
  if (this != &other) {
    free_if_owned(handle_, owned_);
    handle_ = std::exchange(other.handle_, handle_of(MPI_COMM_NULL));
    owned_ = std::exchange(other.owned_, false);
    rank_ = other.rank_;
    size_ = other.size_;
  }
  return *this;
}

Comm::~Comm() { free_if_owned(handle_, owned_); }

bool Comm::is_null() const { return comm_of(handle_) == MPI_COMM_NULL; }

Comm Comm::split(int color) const {
  MPI_Comm out = MPI_COMM_NULL;
  check(MPI_Comm_split(comm_of(handle_), color == kNoColor ? MPI_UNDEFINED : color, rank_, &out), "MPI_Comm_split");
  return Comm(FromHandle{}, handle_of(out), out != MPI_COMM_NULL);
}

void Comm::barrier() const {
  count_collective(0);
  check(MPI_Barrier(comm_of(handle_)), "MPI_Barrier");
}

void Comm::allreduce_elements(void* values, int n, ElementType type, ReduceOp op) const {
  count_collective(bytes_of(n, type));
  check(MPI_Allreduce(MPI_IN_PLACE, values, n, datatype(type), operation(op), comm_of(handle_)), "MPI_Allreduce");
}

void Comm::exscan_sum_elements(const void* values, void* out, int n, ElementType type) const {
  count_collective(bytes_of(n, type));
  check(MPI_Exscan(values, out, n, datatype(type), MPI_SUM, comm_of(handle_)), "MPI_Exscan");
}

void Comm::allgather_element(const void* value, void* out, ElementType type) const {
  count_collective(bytes_of(1, type));
  check(MPI_Allgather(value, 1, datatype(type), out, 1, datatype(type), comm_of(handle_)), "MPI_Allgather");
}

void Comm::bcast_elements(void* values, int n, ElementType type, int root) const {
  count_collective(bytes_of(n, type));
  check(MPI_Bcast(values, n, datatype(type), root, comm_of(handle_)), "MPI_Bcast");
}

std::pair<int, int> Comm::node_rank_and_size() const {
  MPI_Comm node = MPI_COMM_NULL;
  check(MPI_Comm_split_type(comm_of(handle_), MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node), "MPI_Comm_split_type");
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
  check(MPI_Alltoall(send_counts.data(), 1, MPI_INT64_T, recv.data(), 1, MPI_INT64_T, comm_of(handle_)),
        "MPI_Alltoall");
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
                    ElementType element) const {
  const MPI_Datatype type = datatype(element);
  const MPI_Comm comm = comm_of(handle_);
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
      check(MPI_Irecv(static_cast<char*>(recv[r]) + at * bytes, n, type, r, kTag, comm, &requests.back()),
            "MPI_Irecv");
      traffic().bytes_received += static_cast<double>(n) * static_cast<double>(bytes);
    }
  }
  for (int r = 0; r < size_; ++r) {
    if (r == rank_ || send_counts[r] == 0) continue;
    for (std::int64_t at = 0; at < send_counts[r]; at += max_piece) {
      const auto n = static_cast<int>(std::min(max_piece, send_counts[r] - at));
      requests.emplace_back();
      check(MPI_Isend(static_cast<const char*>(send[r]) + at * bytes, n, type, r, kTag, comm,
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
