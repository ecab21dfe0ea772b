// Selection on the GPU, one warp per query row of a score tile.
//
// It is CpuBackend::search's row loop, made warp-wide: the warp reads the row 16 bytes per lane,
// and a score below bar = (k-th best canonical similarity so far) - slack cannot enter the list
// (slack bounds the tensor-core error per query row, knn/tensor_error_bound.hpp; a BF16 score is
// compared with the bar rounded down to BF16, which keeps the test exact because rounding is
// monotone), so almost every score costs one compare.
// A score that passes is re-scored canonically by the whole warp (coalesced loads of the two rows,
// float64 partial sums in exactly the order knn/topk.hpp defines, so the lists are bit-identical
// to the CPU backend's) and, if it beats the k-th best, inserted into the row's sorted list in GPU
// memory; the bar rises at once. No k' = k + margin guess is involved, so duplicate-heavy corpora
// stay exact and k is any value up to the configuration's limit.
#include <cuda_bf16.h>

#include <algorithm>
#include <cstdint>
#include <limits>

#include "knn/cuda/cuda_check.hpp"
#include "knn/cuda/select_kernels.hpp"
#include "knn/tensor_error_bound.hpp"

namespace weave::knn::cuda {

namespace {

constexpr int kWarp = 32;
constexpr unsigned kFullMask = 0xffffffffu;
constexpr int kScanThreads = 1024;  // one block fills an SM: blocks land one per SM
constexpr long long kNoId = std::numeric_limits<long long>::max();

/// The total order of neighbours: higher similarity first, then the smaller global id.
__device__ __forceinline__ bool beats(float s, long long id, float other_s, long long other_id) {
  return s > other_s || (s == other_s && id < other_id);
}

/// knn::canonical_similarity, by a warp: lane l holds partial sum l (elements 4l..4l+3, then
/// 4l+128.., ascending); the partials are combined by halving (lane l += lane l + 16, + 8, ...).
/// Float products are exact in float64, so fma equals the CPU's multiply-then-add. Every lane
/// returns the result.
__device__ float warp_canonical_similarity(const float* a, const float* b, long long d, int lane) {
  double s = 0;
  if (d % 4 == 0) {
    const auto* a4 = reinterpret_cast<const float4*>(a);
    const auto* b4 = reinterpret_cast<const float4*>(b);
    for (long long g = lane; g < d / 4; g += kWarp) {
      const float4 x = a4[g], y = b4[g];
      s = fma(static_cast<double>(x.x), static_cast<double>(y.x), s);
      s = fma(static_cast<double>(x.y), static_cast<double>(y.y), s);
      s = fma(static_cast<double>(x.z), static_cast<double>(y.z), s);
      s = fma(static_cast<double>(x.w), static_cast<double>(y.w), s);
    }
  } else {
    for (long long g = lane; g * 4 < d; g += kWarp)
      for (long long j = g * 4; j < g * 4 + 4 && j < d; ++j)
        s = fma(static_cast<double>(a[j]), static_cast<double>(b[j]), s);
  }
  for (int half = kWarp / 2; half >= 1; half /= 2) s += __shfl_down_sync(kFullMask, s, half);
  return static_cast<float>(__shfl_sync(kFullMask, s, 0));
}

/// Inserts (s, id), which beats the last entry, into the sorted list of k in GPU memory: its place
/// is the number of entries that beat it; entries from there on move one place back (the last
/// drops out), chunk by chunk from the end, each chunk read before it is written.
__device__ void warp_insert(float* list_s, long long* list_id, int k, float s, long long id, int lane) {
  int place = 0;
  for (int base = 0; base < k; base += kWarp) {
    const int i = base + lane;
    place += __popc(__ballot_sync(kFullMask, i < k && beats(list_s[i], list_id[i], s, id)));
  }
  for (int base = ((k - 2) / kWarp) * kWarp; k >= 2 && base >= 0 && base + kWarp > place; base -= kWarp) {
    const int i = base + lane;
    const bool moves = i >= place && i <= k - 2;
    float entry_s = 0;
    long long entry_id = 0;
    if (moves) {
      entry_s = list_s[i];
      entry_id = list_id[i];
    }
    __syncwarp();
    if (moves) {
      list_s[i + 1] = entry_s;
      list_id[i + 1] = entry_id;
    }
    __syncwarp();
  }
  if (lane == 0) {
    list_s[place] = s;
    list_id[place] = id;
  }
  __syncwarp();
}

template <typename Score>
__device__ __forceinline__ float score_to_float(Score x);
template <>
__device__ __forceinline__ float score_to_float<float>(float x) { return x; }
template <>
__device__ __forceinline__ float score_to_float<__nv_bfloat16>(__nv_bfloat16 x) { return __bfloat162float(x); }

/// The pass bits of one lane's V scores (16 bytes at col): bit e is set when score col + e exists
/// and is >= bar.
template <typename Score, int V>
__device__ __forceinline__ unsigned pass_bits(const Score* row, long long col, long long nb, float bar) {
  unsigned bits = 0;
  if (col + V <= nb) {
    const uint4 raw = *reinterpret_cast<const uint4*>(row + col);
    const Score* x = reinterpret_cast<const Score*>(&raw);
#pragma unroll
    for (int e = 0; e < V; ++e) bits |= (score_to_float<Score>(x[e]) >= bar ? 1u : 0u) << e;
  } else {
    for (int e = 0; col + e < nb && e < V; ++e) bits |= (score_to_float<Score>(row[col + e]) >= bar ? 1u : 0u) << e;
  }
  return bits;
}

/// One query row of a tile: the warp's loop (see the top of this file).
/// A score that passed the bar, waiting for the warp.
struct Staged {
  int col;
  float score;
};

/// The lowest score that can still matter: a pair whose exact similarity reaches kth has an FP32
/// score >= kth - slack, and a BF16 score >= that value rounded down to BF16 (every rounding mode
/// is monotone and lands at or above the value rounded down).
template <typename Score>
__device__ __forceinline__ float bar_for(float kth, float slack);
template <>
__device__ __forceinline__ float bar_for<float>(float kth, float slack) { return kth - slack; }
template <>
__device__ __forceinline__ float bar_for<__nv_bfloat16>(float kth, float slack) {
  return __bfloat162float(__float2bfloat16_rd(kth - slack));  // below any rounding of the GEMM
}

template <typename Score>
__device__ void scan_row(const ScanTile& t, long long row, int lane, Staged* staging) {
  constexpr int V = 16 / sizeof(Score);
  constexpr int kUnroll = 8;  // 16-byte loads in flight per lane: a 4096-wide BF16 row in 2 rounds
  const Score* scores = static_cast<const Score*>(t.scores) + row * t.ld;
  float* list_s = t.list_sims + row * t.k;
  long long* list_id = reinterpret_cast<long long*>(t.list_ids) + row * t.k;
  const float* query = t.queries + row * t.dim;
  const long long self = t.query_first + row;
  const float slack = tensor_dot_error_bound(t.query_norm[row], t.query_residual[row], t.database_maxima[0],
                                             t.database_maxima[1], t.dim);
  float kth_s = list_s[t.k - 1];  // the k-th best so far, kept in registers
  long long kth_id = list_id[t.k - 1];
  float bar = bar_for<Score>(kth_s, slack);
  unsigned long long rescored = 0;

  for (long long base = 0; base < t.nb; base += kUnroll * kWarp * V) {
    // V pass bits per load, packed in one register word (a run-time indexed array would live in
    // local memory).
    unsigned long long bits = 0;
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const long long col = base + (u * kWarp + lane) * V;
      if (col < t.nb) bits |= static_cast<unsigned long long>(pass_bits<Score, V>(scores, col, t.nb, bar)) << (u * V);
    }
    if (!__any_sync(kFullMask, bits != 0)) continue;

    for (int u = 0; u < kUnroll; ++u) {
      const unsigned m = static_cast<unsigned>(bits >> (u * V)) & ((1u << V) - 1);
      if (!__any_sync(kFullMask, m != 0)) continue;
      // Compact the passing (column, score) pairs of the warp into staging (prefix sum of counts).
      const long long col0 = base + (u * kWarp + lane) * V;
      const int count = __popc(m);
      int offset = count;
      for (int delta = 1; delta < kWarp; delta <<= 1) {
        const int x = __shfl_up_sync(kFullMask, offset, delta);
        if (lane >= delta) offset += x;
      }
      const int total = __shfl_sync(kFullMask, offset, kWarp - 1);
      offset -= count;
      for (int e = 0; e < V; ++e)
        if (m & (1u << e)) staging[offset++] = {static_cast<int>(col0) + e, score_to_float<Score>(scores[col0 + e])};
      __syncwarp();
      // 32 staged pairs at a time are held against the bar in parallel (it rises as the list fills:
      // while it is -inf every score is staged); the survivors are taken in order, one per step.
      for (int c0 = 0; c0 < total; c0 += kWarp) {
        const Staged mine = c0 + lane < total ? staging[c0 + lane] : Staged{0, -INFINITY};
        unsigned pass = __ballot_sync(kFullMask, c0 + lane < total && mine.score >= bar &&
                                                     t.database_first + mine.col != self);
        while (pass != 0) {
          const int src = __ffs(pass) - 1;
          pass &= pass - 1;
          const int col = __shfl_sync(kFullMask, mine.col, src);
          if (__shfl_sync(kFullMask, mine.score, src) < bar) continue;
          const long long id = t.database_first + col;
          const float s = warp_canonical_similarity(query, t.database + col * t.dim, t.dim, lane);
          ++rescored;
          if (!beats(s, id, kth_s, kth_id)) continue;
          warp_insert(list_s, list_id, t.k, s, id, lane);
          kth_s = list_s[t.k - 1];
          kth_id = list_id[t.k - 1];
          bar = bar_for<Score>(kth_s, slack);
        }
      }
      __syncwarp();
    }
  }
  if (lane == 0 && rescored != 0) atomicAdd(t.rescored, rescored);
}

/// One block per SM of the selection's share, each warp taking rows round-robin: the GEMM of the
/// next tile, limited to the other SMs, runs beside it (cuda_backend.cpp).
template <typename Score>
__global__ void __launch_bounds__(kScanThreads) scan_tile_kernel(ScanTile t) {
  extern __shared__ Staged staging[];  // kWarp * V per warp
  constexpr int V = 16 / sizeof(Score);
  const int warp = threadIdx.x / kWarp;
  const int lane = threadIdx.x % kWarp;
  const long long warps = static_cast<long long>(gridDim.x) * (kScanThreads / kWarp);
  for (long long row = static_cast<long long>(blockIdx.x) * (kScanThreads / kWarp) + warp; row < t.nq; row += warps)
    scan_row<Score>(t, row, lane, staging + warp * kWarp * V);
}

/// A warp per row: the BF16 copy, and the norms of the copy and of what rounding left out.
__global__ void convert_rows_kernel(const float* rows, long long n, long long d, __nv_bfloat16* out, float* norm,
                                    float* residual) {
  const int lane = threadIdx.x % kWarp;
  const long long warps = static_cast<long long>(gridDim.x) * (blockDim.x / kWarp);
  for (long long row = (static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x) / kWarp; row < n;
       row += warps) {
    double kept = 0, lost = 0;
    for (long long j = lane; j < d; j += kWarp) {
      const float x = rows[row * d + j];
      const __nv_bfloat16 h = __float2bfloat16_rn(x);
      out[row * d + j] = h;
      const double hd = __bfloat162float(h);
      const double r = static_cast<double>(x) - hd;  // exact
      kept += hd * hd;
      lost += r * r;
    }
    for (int half = kWarp / 2; half >= 1; half /= 2) {
      kept += __shfl_down_sync(kFullMask, kept, half);
      lost += __shfl_down_sync(kFullMask, lost, half);
    }
    if (lane == 0) {
      // Round up: the bound must not shrink by rounding (1e-12 covers the sums' own error).
      norm[row] = __double2float_ru(sqrt(kept) * (1 + 1e-12));
      residual[row] = __double2float_ru(sqrt(lost) * (1 + 1e-12));
    }
  }
}

/// Non-negative floats order like their bit patterns as integers.
__global__ void max_norms_kernel(const float* norm, const float* residual, long long n, float* maxima) {
  int best_norm = 0, best_residual = 0;
  for (long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<long long>(gridDim.x) * blockDim.x) {
    best_norm = max(best_norm, __float_as_int(norm[i]));
    best_residual = max(best_residual, __float_as_int(residual[i]));
  }
  for (int half = kWarp / 2; half >= 1; half /= 2) {
    best_norm = max(best_norm, __shfl_down_sync(kFullMask, best_norm, half));
    best_residual = max(best_residual, __shfl_down_sync(kFullMask, best_residual, half));
  }
  if (threadIdx.x % kWarp == 0) {
    atomicMax(reinterpret_cast<int*>(maxima), best_norm);
    atomicMax(reinterpret_cast<int*>(maxima) + 1, best_residual);
  }
}

/// A warp per pair (see canonical_similarities).
__global__ void canonical_similarities_kernel(const float* a, const float* b, long long pairs, long long d,
                                              float* out) {
  const int lane = threadIdx.x % kWarp;
  const long long pair = (static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x) / kWarp;
  if (pair >= pairs) return;
  const float s = warp_canonical_similarity(a + pair * d, b + pair * d, d, lane);
  if (lane == 0) out[pair] = s;
}

__global__ void init_lists_kernel(float* sims, long long* ids, std::size_t count) {
  for (std::size_t i = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<std::size_t>(gridDim.x) * blockDim.x) {
    sims[i] = -INFINITY;
    ids[i] = kNoId;
  }
}

__global__ void finish_lists_kernel(float* sims, long long* ids, std::size_t count) {
  for (std::size_t i = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<std::size_t>(gridDim.x) * blockDim.x) {
    if (ids[i] == kNoId) {
      ids[i] = -1;
      sims[i] = NAN;
    }
  }
}

unsigned grid_for(std::size_t count) {
  const std::size_t blocks = (count + 255) / 256;
  return static_cast<unsigned>(blocks < 65536 ? (blocks == 0 ? 1 : blocks) : 65536);
}

template <typename Score>
void launch_scan(const ScanTile& tile, int blocks, cudaStream_t stream) {
  constexpr int kSharedBytes = kScanThreads / kWarp * kWarp * (16 / sizeof(Score)) * sizeof(Staged);
  static const bool configured = [] {  // more than the default 48 KB of shared memory per block
    check(cudaFuncSetAttribute(scan_tile_kernel<Score>, cudaFuncAttributeMaxDynamicSharedMemorySize, kSharedBytes),
          "cudaFuncSetAttribute(scan_tile_kernel)");
    return true;
  }();
  (void)configured;
  if (blocks <= 0) blocks = static_cast<int>((tile.nq + kScanThreads / kWarp - 1) / (kScanThreads / kWarp));
  scan_tile_kernel<Score><<<blocks, kScanThreads, kSharedBytes, stream>>>(tile);
}

}  // namespace

void convert_rows_to_bf16(const float* rows, std::int64_t n, std::int64_t dim, std::uint16_t* out, float* norm,
                          float* residual, cudaStream_t stream) {
  const long long blocks = std::min<long long>((n + 7) / 8, 65536);
  convert_rows_kernel<<<static_cast<unsigned>(std::max<long long>(blocks, 1)), 256, 0, stream>>>(
      rows, n, dim, reinterpret_cast<__nv_bfloat16*>(out), norm, residual);
  check_launch("convert_rows_kernel");
}

void max_norms(const float* norm, const float* residual, std::int64_t n, float* maxima, cudaStream_t stream) {
  check(cudaMemsetAsync(maxima, 0, 2 * sizeof(float), stream), "cudaMemsetAsync(maxima)");
  max_norms_kernel<<<grid_for(static_cast<std::size_t>(n)), 256, 0, stream>>>(norm, residual, n, maxima);
  check_launch("max_norms_kernel");
}

void canonical_similarities(const float* a, const float* b, std::int64_t pairs, std::int64_t dim, float* out,
                            cudaStream_t stream) {
  const auto blocks = static_cast<unsigned>(std::max<std::int64_t>(1, (pairs * kWarp + 255) / 256));
  canonical_similarities_kernel<<<blocks, 256, 0, stream>>>(a, b, pairs, dim, out);
  check_launch("canonical_similarities_kernel");
}

void init_lists(float* sims, std::int64_t* ids, std::size_t count, cudaStream_t stream) {
  init_lists_kernel<<<grid_for(count), 256, 0, stream>>>(sims, reinterpret_cast<long long*>(ids), count);
  check_launch("init_lists_kernel");
}

void finish_lists(float* sims, std::int64_t* ids, std::size_t count, cudaStream_t stream) {
  finish_lists_kernel<<<grid_for(count), 256, 0, stream>>>(sims, reinterpret_cast<long long*>(ids), count);
  check_launch("finish_lists_kernel");
}

void scan_tile(const ScanTile& tile, int blocks, cudaStream_t stream) {
  if (tile.bf16_scores)
    launch_scan<__nv_bfloat16>(tile, blocks, stream);
  else
    launch_scan<float>(tile, blocks, stream);
  check_launch("scan_tile_kernel");
}

bool kernels_available() {
  cudaFuncAttributes attributes{};
  const cudaError_t status = cudaFuncGetAttributes(&attributes, scan_tile_kernel<__nv_bfloat16>);
  if (status != cudaSuccess) cudaGetLastError();
  return status == cudaSuccess;
}

}  // namespace weave::knn::cuda
