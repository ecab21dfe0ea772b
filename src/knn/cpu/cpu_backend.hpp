// CPU search: similarity tiles by BLAS SGEMM (OpenBLAS), candidates re-scored canonically and kept
// in faiss heaps (knn/topk.hpp); chunks travel with nonblocking MPI (mpi/ring.hpp).
#pragma once

#include <memory>
#include <optional>
#include <vector>

#include "knn/backend.hpp"
#include "knn/topk.hpp"
#include "mpi/ring.hpp"

namespace weave::knn {

class CpuBackend final : public SearchBackend {
 public:
  CpuBackend(const mpi::Comm& comm, std::int64_t query_tile, std::int64_t database_tile)
      : comm_(comm), query_tile_(query_tile), database_tile_(database_tile) {}
  std::string name() const override { return "cpu"; }

  void begin(const RowBlock& queries, std::int64_t dim, int k, std::int64_t chunk_rows) override;
  void start_shift(const Chunk& send, int recv_slot, std::int64_t recv_rows) override;
  void search(const Chunk& held) override;
  double finish_shift() override;
  KnnLists finish() override;
  double bytes_sent() const override { return ring_ ? ring_->bytes_sent() : 0; }
  std::vector<std::pair<std::string, double>> counters() const override {
    return {{"rescored_pairs", rescored_pairs_}};
  }

 private:
  const float* rows_of(const Chunk& chunk) const;

  const mpi::Comm& comm_;
  std::int64_t query_tile_;
  std::int64_t database_tile_;
  RowBlock queries_;
  std::int64_t dim_ = 0;
  std::optional<TopK> topk_;
  std::optional<mpi::RingShift> ring_;
  std::vector<float> slots_[2];  ///< chunks received from the left
  std::vector<float> scores_;    ///< query_tile x database_tile, reused
  double rescored_pairs_ = 0;    ///< pairs scored canonically
};

}  // namespace weave::knn
