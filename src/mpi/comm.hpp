// The communicator wrapper: the only way Weave talks to other ranks.
//
// Every MPI call is checked; a failure raises InternalError carrying MPI_Error_string. Collective
// helpers take and return std::vector, so callers never see counts, displacements or datatypes.
// This header does not include <mpi.h>: the calls live in comm.cpp (the templates hand typed
// buffers to untyped members), and only src/mpi/ (and the HDF5 layer, through mpi/raw_comm.hpp)
// sees an MPI_Comm.
#pragma once

#include <algorithm>
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "mpi/element_type.hpp"
#include "mpi/traffic.hpp"
#include "util/uninit_vector.hpp"

namespace weave::mpi {

class Comm {
 public:
  /// Every process of the job (MPI_COMM_WORLD).
  Comm();
  /// This process alone (MPI_COMM_SELF): for files one rank opens by itself (metadata, attributes).
  static Comm self();
  /// Every process of the job (MPI_COMM_WORLD).
  static Comm world() { return Comm(); }
  Comm(const Comm&) = delete;
  Comm& operator=(const Comm&) = delete;
  Comm(Comm&& other) noexcept;
  Comm& operator=(Comm&& other) noexcept;
  ~Comm();

  /// The color of split() for ranks that join no communicator.
  static constexpr int kNoColor = -1;
  /// A new communicator of the ranks passing the same color (>= 0; MPI_Comm_split), ordered by
  /// rank. Ranks passing kNoColor get an empty Comm (is_null()).
  Comm split(int color) const;
  /// This rank's place among the ranks of its node (shared memory), and their number.
  std::pair<int, int> node_rank_and_size() const;
  /// The name of the host this process runs on.
  static std::string processor_name();

  bool is_null() const;
  int rank() const { return rank_; }
  int size() const { return size_; }
  bool is_root() const { return rank_ == 0; }

  void barrier() const;

  template <typename T>
  T allreduce(T value, ReduceOp op) const {
    allreduce_inplace(std::span<T>(&value, 1), op);
    return value;
  }
  /// Element-wise over every rank's `values` (the same length everywhere), in pieces of at most
  /// max_piece_elements() (MPI counts are int).
  template <typename T>
  void allreduce_inplace(std::span<T> values, ReduceOp op) const {
    for (std::size_t at = 0; at < values.size(); at += static_cast<std::size_t>(max_piece_elements())) {
      const auto n = static_cast<int>(std::min<std::size_t>(values.size() - at, max_piece_elements()));
      allreduce_elements(values.data() + at, n, element_type<T>(), op);
    }
  }
  template <typename T>
  T sum(T v) const { return allreduce(v, ReduceOp::kSum); }
  template <typename T>
  T max(T v) const { return allreduce(v, ReduceOp::kMax); }
  template <typename T>
  T min(T v) const { return allreduce(v, ReduceOp::kMin); }
  /// Element-wise sums over every rank's `values`, in place.
  template <typename T>
  void sum_inplace(std::span<T> values) const { allreduce_inplace(values, ReduceOp::kSum); }

  /// Exclusive prefix sum over ranks (0 on rank 0).
  template <typename T>
  T exscan_sum(T value) const {
    exscan_sum_inplace(std::span<T>(&value, 1));
    return value;
  }

  /// Element-wise exclusive prefix sum over ranks, in place (zeros on rank 0), in pieces like
  /// allreduce_inplace.
  template <typename T>
  void exscan_sum_inplace(std::span<T> values) const {
    std::vector<T> out(std::min<std::size_t>(values.size(), static_cast<std::size_t>(max_piece_elements())));
    for (std::size_t at = 0; at < values.size(); at += static_cast<std::size_t>(max_piece_elements())) {
      const auto n = static_cast<int>(std::min<std::size_t>(values.size() - at, max_piece_elements()));
      exscan_sum_elements(values.data() + at, out.data(), n, element_type<T>());
      for (int i = 0; i < n; ++i) values[at + i] = rank_ == 0 ? T{} : out[i];
    }
  }

  /// One value from every rank, indexed by rank (O(P) memory).
  template <typename T>
  std::vector<T> allgather(T value) const {
    std::vector<T> out(static_cast<std::size_t>(size_));
    allgather_element(&value, out.data(), element_type<T>());
    return out;
  }

  /// `values` from root to every rank (the same length everywhere), in pieces of at most
  /// max_piece_elements().
  template <typename T>
  void bcast(std::span<T> values, int root) const {
    for (std::size_t at = 0; at < values.size(); at += static_cast<std::size_t>(max_piece_elements())) {
      const auto n = static_cast<int>(std::min<std::size_t>(values.size() - at, max_piece_elements()));
      bcast_elements(values.data() + at, n, element_type<T>(), root);
    }
  }
  template <typename T>
  T bcast_value(T value, int root) const {
    bcast(std::span<T>(&value, 1), root);
    return value;
  }
  std::string bcast_string(const std::string& s, int root) const;
  std::vector<std::string> bcast_strings(const std::vector<std::string>& v, int root) const;

  /// Personalised all-to-all: send[i] goes to rank i; returns what each rank sent here, by rank.
  /// Point to point from each send vector into each received vector (no packed copies), in pieces
  /// of at most max_piece_elements() elements, so any size goes.
  template <typename T>
  std::vector<std::vector<T>> alltoallv(const std::vector<std::vector<T>>& send) const;
  /// The same into `received` (resized to P, each vector to what arrives), reusing its capacity: for
  /// exchanges repeated in rounds, where fresh buffers each round cost the kernel's page clearing.
  template <typename T>
  void alltoallv_into(const std::vector<std::vector<T>>& send, std::vector<std::vector<T>>& received) const;

  /// Elements per message of the exchanges, gathers, broadcasts and reductions of spans (MPI counts
  /// are int; tests lower it to exercise the pieces).
  static std::int64_t max_piece_elements();
  static void set_max_piece_elements(std::int64_t elements);

  /// The same over one flat buffer: the first send_counts[0] elements go to rank 0, the next
  /// send_counts[1] to rank 1, ...; returns what the ranks sent here, concatenated in rank order,
  /// with their counts in *recv_counts. No per-rank vectors: for exchanges of bulk rows (and no
  /// zero fill of the received buffer, which the exchange writes in full).
  template <typename T, typename Allocator>
  util::UninitVector<T> alltoallv_flat(const std::vector<T, Allocator>& send, const std::vector<std::int64_t>& send_counts,
                                       std::vector<std::int64_t>* recv_counts) const;
  /// The same where this rank knows what each rank sends it (the answers to its own requests):
  /// recv_counts must be what the senders' send_counts say, and no all-to-all of counts is needed.
  template <typename T, typename Allocator>
  util::UninitVector<T> alltoallv_flat_known(const std::vector<T, Allocator>& send,
                                             const std::vector<std::int64_t>& send_counts,
                                             const std::vector<std::int64_t>& recv_counts) const;

  /// Concatenation of every rank's values on `root` (empty elsewhere), any size (point to point,
  /// in pieces). Gathering on one rank is O(N) there: for tests, O(P) data, and the stages that
  /// say so (the greedy's tail, --algorithm iclm).
  template <typename T>
  std::vector<T> gatherv(std::span<const T> local, int root) const;

 private:
  friend class RawComm;
  /// The MPI_Comm's bits (a pointer or an int, depending on the MPI library), opaque here.
  std::uintptr_t handle_ = 0;
  bool owned_ = false;
  int rank_ = 0;
  int size_ = 0;

  struct FromHandle {};
  Comm(FromHandle, std::uintptr_t handle, bool owned);

  // The MPI calls behind the templates (comm.cpp): n elements of `type` at a time.
  void allreduce_elements(void* values, int n, ElementType type, ReduceOp op) const;
  void exscan_sum_elements(const void* values, void* out, int n, ElementType type) const;
  void allgather_element(const void* value, void* out, ElementType type) const;
  void bcast_elements(void* values, int n, ElementType type, int root) const;
  std::vector<std::int64_t> alltoall_counts(const std::vector<std::int64_t>& send_counts) const;
  /// send[r] (send_counts[r] elements) to rank r and recv_counts[r] elements from rank r into recv[r].
  void exchange(const std::vector<const void*>& send, const std::vector<std::int64_t>& send_counts,
                const std::vector<void*>& recv, const std::vector<std::int64_t>& recv_counts, ElementType type) const;
};

template <typename T>
std::vector<std::vector<T>> Comm::alltoallv(const std::vector<std::vector<T>>& send) const {
  std::vector<std::vector<T>> out;
  alltoallv_into(send, out);
  return out;
}

template <typename T>
void Comm::alltoallv_into(const std::vector<std::vector<T>>& send, std::vector<std::vector<T>>& out) const {
  std::vector<std::int64_t> send_counts(static_cast<std::size_t>(size_));
  std::vector<const void*> from(static_cast<std::size_t>(size_));
  for (int r = 0; r < size_; ++r) {
    send_counts[r] = static_cast<std::int64_t>(send[r].size());
    from[r] = send[r].data();
  }
  const auto recv_counts = alltoall_counts(send_counts);
  out.resize(static_cast<std::size_t>(size_));
  std::vector<void*> into(static_cast<std::size_t>(size_));
  for (int r = 0; r < size_; ++r) {
    out[r].resize(static_cast<std::size_t>(recv_counts[r]));
    into[r] = out[r].data();
  }
  exchange(from, send_counts, into, recv_counts, element_type<T>());
}

template <typename T, typename Allocator>
util::UninitVector<T> Comm::alltoallv_flat(const std::vector<T, Allocator>& send,
                                           const std::vector<std::int64_t>& send_counts,
                                           std::vector<std::int64_t>* recv_counts) const {
  *recv_counts = alltoall_counts(send_counts);
  return alltoallv_flat_known(send, send_counts, *recv_counts);
}

template <typename T, typename Allocator>
util::UninitVector<T> Comm::alltoallv_flat_known(const std::vector<T, Allocator>& send,
                                                 const std::vector<std::int64_t>& send_counts,
                                                 const std::vector<std::int64_t>& recv_counts) const {
  std::int64_t total = 0;
  for (auto c : recv_counts) total += c;
  util::UninitVector<T> recv(static_cast<std::size_t>(total));
  std::vector<const void*> from(static_cast<std::size_t>(size_));
  std::vector<void*> into(static_cast<std::size_t>(size_));
  for (std::int64_t r = 0, s_at = 0, r_at = 0; r < size_; s_at += send_counts[r], r_at += recv_counts[r], ++r) {
    from[r] = send.data() + s_at;
    into[r] = recv.data() + r_at;
  }
  exchange(from, send_counts, into, recv_counts, element_type<T>());
  return recv;
}

template <typename T>
std::vector<T> Comm::gatherv(std::span<const T> local, int root) const {
  // An exchange in which every rank sends only to root: 64-bit counts, messages in pieces.
  std::vector<std::int64_t> send_counts(static_cast<std::size_t>(size_), 0);
  send_counts[root] = static_cast<std::int64_t>(local.size());
  const auto recv_counts = alltoall_counts(send_counts);
  std::int64_t total = 0;
  for (auto c : recv_counts) total += c;
  std::vector<T> out(static_cast<std::size_t>(total));
  std::vector<const void*> from(static_cast<std::size_t>(size_), nullptr);
  std::vector<void*> into(static_cast<std::size_t>(size_), nullptr);
  from[root] = local.data();
  for (std::int64_t r = 0, at = 0; r < size_; at += recv_counts[r], ++r) into[r] = out.data() + at;
  exchange(from, send_counts, into, recv_counts, element_type<T>());
  return out;
}

}  // namespace weave::mpi
