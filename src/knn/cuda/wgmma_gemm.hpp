// An own BF16 GEMM on Hopper tensor cores (wgmma + TMA), for the score tile that should never reach
// DRAM (docs/algorithms.md). Runs only on sm_90a (H100/H200).
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

  /// Where the filtered form puts the scores at the bars (GPU memory).
  struct Filter {
    const float* bars = nullptr;      ///< per query: the least FP32 score that matters
    std::uint16_t* pieces = nullptr;  ///< nq x ld BF16 scores, written only where `stored` says
    unsigned* stored = nullptr;       ///< nq x stored_words bits, one per piece of kPieceRows columns
    int stored_words = 0;             ///< per query: at least stored_words(nb)
    int* marks = nullptr;             ///< per query: pieces stored
    int* busy_rows = nullptr;         ///< the queries with a piece stored, in no particular order (nq)
    int* busy_count = nullptr;        ///< how many; stored, marks and busy_count zeroed by the caller
  };
  static constexpr int kPieceRows = 256;  ///< database rows (columns of a score row) per piece
#ifdef __CUDACC__
  __host__ __device__
#endif
  static int stored_words(std::int64_t nb) { return static_cast<int>((nb + 32 * kPieceRows - 1) / (32 * kPieceRows)); }

  /// The same products, never written as a tile: for each query q < nq, each piece of 256
  /// database rows (columns) of its scores that holds an FP32 score >= bars[q] is stored to pieces
  /// (BF16, row q, stride ld) and flagged in stored; the query is listed in busy_rows once.
  void run_filtered(const std::uint16_t* queries, std::int64_t nq, const std::uint16_t* database, std::int64_t nb,
                    const Filter& filter, cudaStream_t stream);

 private:
  std::int64_t dim_;
  std::int64_t ld_;
  int sms_ = 0;
  int clusters_ = 0;  ///< resident at once: the persistent grid
};

}  // namespace weave::knn::cuda
