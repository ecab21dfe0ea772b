// The kernels around the tensor-core GEMM: BF16 conversion of the rows, and the selection that
// keeps every query's exact k best (the GPU form of CpuBackend's per-row loop, see select_kernels.cu).
#pragma once

#include <cstdint>

#include <cuda_runtime.h>

#include "knn/cuda/wgmma_gemm.hpp"

namespace weave::knn::cuda {

/// Queues, for rows [0, n) of dim floats: out = bfloat16(rows) (round to nearest even), norm[i] =
/// |bf16 row i| and residual[i] = |row i - bf16 row i| (rounded up), for the error bound of
/// knn/tensor_error_bound.hpp.
void convert_rows_to_bf16(const float* rows, std::int64_t n, std::int64_t dim, std::uint16_t* out, float* norm,
                          float* residual, cudaStream_t stream);

/// Queues maxima[0] = max norm[i], maxima[1] = max residual[i] over i < n (a chunk's bound).
void max_norms(const float* norm, const float* residual, std::int64_t n, float* maxima, cudaStream_t stream);

/// Queues the empty lists: similarity -inf, id INT64_MAX (worse than every real neighbour).
void init_lists(float* sims, std::int64_t* ids, std::size_t count, cudaStream_t stream);

/// One score tile and what the selection needs besides it.
struct ScanTile {
  const void* scores = nullptr;     ///< nq x ld, BF16 or FP32 fast similarities
  bool bf16_scores = true;
  std::int64_t ld = 0;              ///< row stride of scores (a multiple of 8)
  std::int64_t nq = 0;              ///< queries (rows of the tile)
  std::int64_t nb = 0;              ///< database rows (columns of the tile)
  const float* queries = nullptr;   ///< nq x dim FP32 unit rows, for the canonical re-score
  const float* database = nullptr;  ///< nb x dim FP32 unit rows
  std::int64_t dim = 0;
  std::int64_t query_first = 0;     ///< global id of query row 0 (ids consecutive) ...
  std::int64_t database_first = 0;  ///< global id of database row 0
  const std::int64_t* query_ids = nullptr;     ///< ... or, when set, the id of each query row (GPU memory)
  const std::int64_t* database_ids = nullptr;  ///< the id of each database row (GPU memory)
  float* list_sims = nullptr;       ///< nq x k, sorted best first (similarity desc, id asc)
  std::int64_t* list_ids = nullptr;
  int k = 0;
  const float* query_norm = nullptr;      ///< per query row: |bf16 row|, |residual| (for the slack)
  const float* query_residual = nullptr;
  const float* database_maxima = nullptr;  ///< the chunk's max |bf16 row| and max |residual|
  unsigned long long* rescored = nullptr;  ///< counter: candidates scored canonically
};

/// Queues the selection of one tile: every score that can reach the query's k-th best (its slack is
/// knn::tensor_error_bound for the query row against the chunk's maxima) is re-scored
/// canonically and merged into the query's list. sms > 0: blocks for that many SMs, the warps
/// taking rows round-robin (--gpu-select-sms); sms = 0: one warp per row, on every SM.
void scan_tile(const ScanTile& tile, int sms, cudaStream_t stream);

/// What the filtered GEMM of a tile (WgmmaGemm::run_filtered) works with and leaves behind.
struct FilteredTile {
  ScanTile scan;  ///< scores: the pieces (BF16, stride ld); the rest as for scan_tile; k <= 32
  WgmmaGemm::Filter filter;
  float* bars = nullptr;           ///< filter.bars, writable
  int* next_busy_count = nullptr;  ///< the next tile's filter.busy_count (another counter)
};

/// Queues, per query of the tile: its bar for the filtered GEMM (the FP32 score a pair needs to reach
/// the list's k-th best, less the slack, as in scan_tile), no piece stored; no busy rows.
void prepare_filter(const FilteredTile& tile, cudaStream_t stream);

/// Queues the selection of a filtered tile: the scores of the stored pieces of the busy rows are
/// held against the rising bar, re-scored canonically and merged into the lists exactly as
/// scan_tile would. prepare_next: the busy rows are then set up for the next tile of the same chunk
/// (the same queries and database maxima; the other rows did not change), whose busy count is zeroed.
void merge_candidates(const FilteredTile& tile, bool prepare_next, cudaStream_t stream);

/// Lists back in the KnnLists convention: INT64_MAX -> -1, -inf -> NaN (in place, on the GPU).
void finish_lists(float* sims, std::int64_t* ids, std::size_t count, cudaStream_t stream);

/// Queues out[i] = canonical similarity of rows a[i] and b[i] (dim floats each, GPU memory), as the
/// selection computes it: for tests that compare its bits with the CPU's knn::canonical_similarity.
void canonical_similarities(const float* a, const float* b, std::int64_t pairs, std::int64_t dim, float* out,
                            cudaStream_t stream);

/// False when this build carries no kernel image for the current GPU.
bool kernels_available();

}  // namespace weave::knn::cuda
