// The search backend interface: given a tile of queries and a block of database rows (both unit
// rows, row-major), offer to TopK every pair that may enter a query's list. The ring driver does
// the rest (which block is where, merging, output), so the CPU and GPU paths share everything else.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "knn/topk.hpp"
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

class SearchBackend {
 public:
  virtual ~SearchBackend() = default;
  virtual std::string name() const = 0;
  /// Offers to topk (indexed by query - queries.first) every pair that may beat the query's current
  /// k-th neighbour; a document is never offered as its own neighbour. between_tiles is called
  /// now and then (the ring lets MPI progress the next block's transfer there).
  virtual void search(const RowBlock& queries, const RowBlock& database, std::int64_t dim, TopK& topk,
                      const std::function<void()>& between_tiles) = 0;
};

/// The backend named by config.backend (UserError if it is not built in).
std::unique_ptr<SearchBackend> make_backend(const KnnConfig& config, const mpi::Comm& comm);

}  // namespace weave::knn
