// Block search: any block of query rows against any block of database rows, each row with its own
// global id — the exact k best of every query among the database rows (itself excluded), in the
// total order (similarity desc, id asc), by the canonical similarity. What the approximate search
// (knn/ivf/) runs on its cluster pieces, its k-means and its assignment; on the CPU (BLAS tiles,
// knn/cpu/row_search.hpp) or on this rank's GPU (knn/cuda/cuda_block_search.hpp), the same lists.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "knn/backend.hpp"
#include "mpi/comm.hpp"

namespace weave::knn {

/// Rows with their global ids; ids may be null for queries (then no row is excluded as "itself").
struct RowSet {
  const float* rows = nullptr;
  const std::int64_t* ids = nullptr;
  std::int64_t count = 0;
};

class BlockSearch {
 public:
  virtual ~BlockSearch() = default;
  virtual std::string name() const = 0;
  /// out: queries.count x k lists, best first, padded with -1 / NaN.
  virtual void search(const RowSet& queries, const RowSet& database, std::int64_t dim, int k, KnnLists& out) = 0;
  /// Pairs scored canonically so far (candidates within the fast score's error bound).
  virtual double rescored_pairs() const = 0;
};

/// On the CPU, or on this rank's GPU (collective for cuda: one GPU per rank, by node-local rank;
/// UserError when the build or the node has none).
std::unique_ptr<BlockSearch> make_block_search(KnnBackend backend, const mpi::Comm& comm);

}  // namespace weave::knn
