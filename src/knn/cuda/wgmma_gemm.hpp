// An own BF16 GEMM on Hopper tensor cores (wgmma + TMA), for the score tile that should never reach
// DRAM (docs/algorithms.md). EXPERIMENT: runs only on sm_90a (H100/H200); written without a GPU.
#pragma once

#include <cstdint>

#include <cuda_runtime.h>

namespace weave::knn::cuda {

class WgmmaGemm {
 public:
  /// dim: BF16 values per row (a multiple of 8); ld: the output's row stride (>= database rows).
  WgmmaGemm(std::int64_t dim, std::int64_t ld);

  /// Queues out[q * ld + x] = queries[q] . database[x] (BF16, round to nearest) for q < nq, x < nb.
  void run(const std::uint16_t* queries, std::int64_t nq, const std::uint16_t* database, std::int64_t nb,
           std::uint16_t* out, cudaStream_t stream);

  /// A database row whose FP32 score reached its query's bar.
  struct Candidate {
    int column;  ///< database row, from 0
    float score;
  };

  /// The same products, never written: for each query q < nq, every x < nb with FP32 score >=
  /// bars[q] is appended to slots[q * capacity ...] in no particular order, counts[q] (which the
  /// caller zeroes) counting all of them; a count above capacity means some were dropped.
  void run_filtered(const std::uint16_t* queries, std::int64_t nq, const std::uint16_t* database, std::int64_t nb,
                    const float* bars, Candidate* slots, int* counts, int capacity, cudaStream_t stream);

 private:
  std::int64_t dim_;
  std::int64_t ld_;
  int sms_ = 0;
};

}  // namespace weave::knn::cuda
