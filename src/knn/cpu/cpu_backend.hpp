// CPU search: similarity tiles by BLAS SGEMM (OpenBLAS), candidates re-scored canonically and kept
// in faiss heaps (knn/topk.hpp).
#pragma once

#include <vector>

#include "knn/backend.hpp"

namespace weave::knn {

class CpuBackend final : public SearchBackend {
 public:
  CpuBackend(std::int64_t query_tile, std::int64_t database_tile)
      : query_tile_(query_tile), database_tile_(database_tile) {}
  std::string name() const override { return "cpu"; }
  void search(const RowBlock& queries, const RowBlock& database, std::int64_t dim, TopK& topk,
              const std::function<void()>& between_tiles) override;

 private:
  std::int64_t query_tile_;
  std::int64_t database_tile_;
  std::vector<float> scores_;  ///< query_tile x database_tile, reused
};

}  // namespace weave::knn
