// The search backend interface. The ring driver (exact_ring.cpp) decides which chunk of which
// rank's rows is held at each step; a backend stores the queries and two chunk slots, passes chunks
// around the ring (MPI on the CPU, NCCL between GPUs) and searches the chunk it holds. So the CPU
// and GPU paths share the schedule, the progress lines and the report counters.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "mpi/comm.hpp"
#include "weave/config.hpp"
#include "weave/ids.hpp"

namespace weave::knn {

/// Consecutive rows with consecutive global ids [first, first + count).
struct RowBlock {
  const float* rows = nullptr;
  std::int64_t count = 0;
  GlobalId first{0};
};

/// What the kNN core searches: this rank's rows (unit norm) with ids [first, first + count),
/// ascending over the ranks, of `total` rows of `dim` floats in all: a corpus (distributed_rows_of), its
/// distinct rows, the ends of paths, ... The rows are not owned.
struct DistributedRows {
  RowBlock own;
  std::int64_t dim = 0;
  std::int64_t total = 0;
  BlockRange range() const { return {own.first.value, own.first.value + own.count}; }
  const float* row(std::int64_t local) const { return own.rows + local * dim; }
};

struct KnnLists {
  int k = 0;
  std::vector<std::int64_t> neighbors;  ///< block.size() x k global ids, best first; -1 = none
  std::vector<float> similarities;      ///< block.size() x k; NaN where neighbors is -1
};

/// A chunk of database rows a backend holds: in chunk slot 0 or 1 (rows received from the left),
/// or, with slot = kOwnRows, this rank's own rows starting at own_offset.
struct Chunk {
  static constexpr int kOwnRows = -1;
  int slot = kOwnRows;
  std::int64_t own_offset = 0;
  std::int64_t count = 0;
  GlobalId first{0};
};

class SearchBackend {
 public:
  virtual ~SearchBackend() = default;
  virtual std::string name() const = 0;

  /// Collective (call inside mpi::collectively): this rank's rows become the queries, kept until
  /// finish(); lists will hold k neighbours; chunks travelling the ring have at most chunk_rows rows.
  virtual void begin(const RowBlock& queries, std::int64_t dim, int k, std::int64_t chunk_rows) = 0;
  /// Starts passing `send` to the right neighbour and receiving recv_rows rows from the left one into
  /// slot recv_slot (which must not be `send`'s slot).
  virtual void start_shift(const Chunk& send, int recv_slot, std::int64_t recv_rows) = 0;
  /// Searches the held chunk while the shift proceeds: every pair that may enter a query's list is
  /// scored canonically (knn/topk.hpp) and kept if it does. A document is never its own neighbour.
  virtual void search(const Chunk& held) = 0;
  /// Completes the shift started last; returns the seconds spent waiting for it.
  virtual double finish_shift() = 0;
  /// The sorted lists of every query (best first, ties by global id).
  virtual KnnLists finish() = 0;
  virtual double bytes_sent() const = 0;
  /// Backend-specific figures for the report (memory, re-scored pairs, ...).
  virtual std::vector<std::pair<std::string, double>> counters() const { return {}; }
};

/// The backend named by config.backend (UserError if it is not built in or cannot run here).
/// Collective when it is the GPU backend (one GPU per rank, NCCL set up over comm).
std::unique_ptr<SearchBackend> make_backend(const KnnConfig& config, const mpi::Comm& comm);

}  // namespace weave::knn
