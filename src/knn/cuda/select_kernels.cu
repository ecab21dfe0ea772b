// Selection on the GPU, one warp per query row of a score tile.
//
// It is CpuBackend::search's row loop, made warp-wide: the warp reads the row 16 bytes per lane,
// and a score below bar = (k-th best canonical similarity so far) - slack cannot enter the list
// (slack bounds the tensor-core error per query row, knn/tensor_error_bound.hpp; a BF16 score is
// compared with the bar rounded down to BF16, which keeps the test exact because rounding is
// monotone), so almost every score costs one compare.
// A score that passes is re-scored canonically by the whole warp (coalesced loads of the two rows,
// float64 partial sums in exactly the order knn/topk.hpp defines, so the lists are bit-identical
// to the CPU backend's) and, if it beats the k-th best, inserted into the row's sorted list (held
// in the warp's registers for k <= 32, in GPU memory beyond); the bar rises at once. No
// k' = k + margin guess is involved, so duplicate-heavy corpora stay exact and k is any value up to
// the configuration's limit. Where the time goes, and what was tried: docs/algorithms.md.
#include <cuda_bf16.h>

#include <algorithm>
#include <cstdint>
#include <limits>

#include "knn/cuda/cuda_check.hpp"
#include "knn/cuda/select_kernels.hpp"
#include "knn/tensor_error_bound.hpp"
#include "weave/error.hpp"

namespace weave::knn::cuda {

namespace {

constexpr int kWarp = 32;
constexpr unsigned kFullMask = 0xffffffffu;
// Blocks of 4 warps, 4 per SM (so at most 128 registers a thread): a small block frees its SM
// slot as soon as its own rows are done, which measured 3-5% faster end to end than blocks of 16
// warps (an H100, 1M x 768; 1- and 2-warp blocks were no better).
constexpr int kScanThreads = 128;
constexpr int kBlocksPerSm = 4;
constexpr long long kNoId = std::numeric_limits<long long>::max();

/// The total order of neighbours: higher similarity first, then the smaller global id.
__device__ __forceinline__ bool beats(float s, long long id, float other_s, long long other_id) {
  return s > other_s || (s == other_s && id < other_id);
}

/// knn::canonical_similarity, by a warp: lane l holds partial sum l (elements 4l..4l+3, then
/// 4l+128.., ascending); the partials are combined by halving (lane l += lane l + 16, + 8, ...).
/// Float products are exact in float64, so fma equals the CPU's multiply-then-add. Every lane
/// returns the result. The loads of a batch (up to kBatch float4 of each row per lane: all of a row
/// of up to 1024 floats) are issued before the first product, so a re-score costs one memory round
/// trip, not one per float4: the selection's re-scores are latency-bound.
__device__ float warp_canonical_similarity(const float* a, const float* b, long long d, int lane) {
  constexpr int kBatch = 8;
  double s = 0;
  if (d % 4 == 0) {
    const auto* a4 = reinterpret_cast<const float4*>(a);
    const auto* b4 = reinterpret_cast<const float4*>(b);
    const long long groups = d / 4;
    for (long long g0 = lane; g0 < groups; g0 += kBatch * kWarp) {
      float4 x[kBatch], y[kBatch];
#pragma unroll
      for (int i = 0; i < kBatch; ++i) {
        const long long g = g0 + i * kWarp;
        x[i] = g < groups ? a4[g] : float4{0, 0, 0, 0};
        y[i] = g < groups ? b4[g] : float4{0, 0, 0, 0};
      }
#pragma unroll
      for (int i = 0; i < kBatch; ++i) {
        if (g0 + i * kWarp >= groups) break;  // the order of the terms is the canonical one
        s = fma(static_cast<double>(x[i].x), static_cast<double>(y[i].x), s);
        s = fma(static_cast<double>(x[i].y), static_cast<double>(y[i].y), s);
        s = fma(static_cast<double>(x[i].z), static_cast<double>(y[i].z), s);
        s = fma(static_cast<double>(x[i].w), static_cast<double>(y[i].w), s);
      }
    }
  } else {
    for (long long g = lane; g * 4 < d; g += kWarp)
      for (long long j = g * 4; j < g * 4 + 4 && j < d; ++j)
        s = fma(static_cast<double>(a[j]), static_cast<double>(b[j]), s);
  }
  for (int half = kWarp / 2; half >= 1; half /= 2) s += __shfl_down_sync(kFullMask, s, half);
  return static_cast<float>(__shfl_sync(kFullMask, s, 0));
}

/// A query's sorted list of k while its warp works on a row, for k <= 32: lane i holds entry i in
/// registers, so an insert is a ballot and a shift between lanes, and the list goes back to GPU
/// memory once, when the row is done.
struct RegisterList {
  float* sims;
  long long* ids;
  int k, lane;
  float s = -INFINITY;
  long long id = kNoId;
  float kth_s = -INFINITY;  ///< entry k - 1 (in every lane)
  long long kth_id = kNoId;
  bool changed = false;

  __device__ RegisterList(float* sims_, long long* ids_, int k_, int lane_) : sims(sims_), ids(ids_), k(k_), lane(lane_) {
    if (lane < k) s = sims[lane], id = ids[lane];
    kth_s = __shfl_sync(kFullMask, s, k - 1);
    kth_id = __shfl_sync(kFullMask, id, k - 1);
  }
  /// (ns, nid) beats entry k - 1: its place is the number of entries that beat it; the entries from
  /// there on move one lane up (the last drops out).
  __device__ void insert(float ns, long long nid) {
    const int place = __popc(__ballot_sync(kFullMask, lane < k && beats(s, id, ns, nid)));
    const float up_s = __shfl_up_sync(kFullMask, s, 1);
    const long long up_id = __shfl_up_sync(kFullMask, id, 1);
    if (lane > place) s = up_s, id = up_id;
    if (lane == place) s = ns, id = nid;
    kth_s = __shfl_sync(kFullMask, s, k - 1);
    kth_id = __shfl_sync(kFullMask, id, k - 1);
    changed = true;
  }
  __device__ void store() {
    if (changed && lane < k) sims[lane] = s, ids[lane] = id;
  }
};

/// The same for any k: the list stays in GPU memory, an insert moves entries there.
struct MemoryList {
  float* sims;
  long long* ids;
  int k, lane;
  float kth_s;
  long long kth_id;

  __device__ MemoryList(float* sims_, long long* ids_, int k_, int lane_)
      : sims(sims_), ids(ids_), k(k_), lane(lane_), kth_s(sims_[k_ - 1]), kth_id(ids_[k_ - 1]) {}
  /// Its place is the number of entries that beat it; entries from there on move one place back,
  /// chunk by chunk from the end, each chunk read before it is written.
  __device__ void insert(float ns, long long nid) {
    int place = 0;
    for (int base = 0; base < k; base += kWarp) {
      const int i = base + lane;
      place += __popc(__ballot_sync(kFullMask, i < k && beats(sims[i], ids[i], ns, nid)));
    }
    for (int base = ((k - 2) / kWarp) * kWarp; k >= 2 && base >= 0 && base + kWarp > place; base -= kWarp) {
      const int i = base + lane;
      const bool moves = i >= place && i <= k - 2;
      float entry_s = 0;
      long long entry_id = 0;
      if (moves) entry_s = sims[i], entry_id = ids[i];
      __syncwarp();
      if (moves) sims[i + 1] = entry_s, ids[i + 1] = entry_id;
      __syncwarp();
    }
    if (lane == 0) sims[place] = ns, ids[place] = nid;
    __syncwarp();
    kth_s = sims[k - 1];
    kth_id = ids[k - 1];
  }
  __device__ void store() {}
};

template <typename Score>
__device__ __forceinline__ float score_to_float(Score x);
template <>
__device__ __forceinline__ float score_to_float<float>(float x) { return x; }
template <>
__device__ __forceinline__ float score_to_float<__nv_bfloat16>(__nv_bfloat16 x) { return __bfloat162float(x); }
__device__ __forceinline__ unsigned score_bits(float x) { return __float_as_uint(x); }
__device__ __forceinline__ unsigned score_bits(__nv_bfloat16 x) { return __bfloat16_as_ushort(x); }

/// The lowest score that can still matter: a pair whose exact similarity reaches kth has an FP32
/// score >= kth - slack, and a BF16 score >= that value rounded down to BF16 (every rounding mode
/// is monotone and lands at or above the value rounded down). Both steps round down.
template <typename Score>
__device__ __forceinline__ float bar_for(float kth, float slack);
template <>
__device__ __forceinline__ float bar_for<float>(float kth, float slack) { return __fsub_rd(kth, slack); }
template <>
__device__ __forceinline__ float bar_for<__nv_bfloat16>(float kth, float slack) {
  return __bfloat162float(__float2bfloat16_rd(__fsub_rd(kth, slack)));  // below any rounding of the GEMM
}

/// How far below a score the exact similarity of its pair can be, besides the slack: a BF16 tile
/// rounds the FP32 score by up to one BF16 unit (2^-7 of its magnitude; 1e-30 covers zero).
template <typename Score>
__device__ __forceinline__ float rounding_room(float score);
template <>
__device__ __forceinline__ float rounding_room<float>(float) { return 0.0f; }
template <>
__device__ __forceinline__ float rounding_room<__nv_bfloat16>(float score) {
  return __fmaf_ru(fabsf(score), 0x1.0p-7f, 1e-30f);
}

/// Order-preserving key of a score (larger score, larger key; unsigned comparison).
__device__ __forceinline__ unsigned order_key(float x) {
  const unsigned b = __float_as_uint(x);
  return (b & 0x80000000u) ? ~b : (b | 0x80000000u);
}

/// The largest of a lane's scores in a round (NaN, the padding, is ignored; -inf if nothing else):
/// BF16 pairs are compared two at a time.
template <typename Score, int kLoads>
__device__ __forceinline__ float round_max(const uint4 (&raw)[kLoads]) {
  if constexpr (sizeof(Score) == 2) {
    __nv_bfloat162 m = __float2bfloat162_rn(-INFINITY);
#pragma unroll
    for (int u = 0; u < kLoads; ++u) {
      const auto* x = reinterpret_cast<const __nv_bfloat162*>(&raw[u]);
#pragma unroll
      for (int e = 0; e < 4; ++e) m = __hmax2(m, x[e]);
    }
    return fmaxf(__low2float(m), __high2float(m));
  } else {
    float m = -INFINITY;
#pragma unroll
    for (int u = 0; u < kLoads; ++u) m = fmaxf(m, fmaxf(fmaxf(__uint_as_float(raw[u].x), __uint_as_float(raw[u].y)),
                                                        fmaxf(__uint_as_float(raw[u].z), __uint_as_float(raw[u].w))));
    return m;
  }
}

/// A score that passed the bar, waiting for the warp.
struct Staged {
  int col;
  float score;
};

/// How a row is read: in sweeps of kSweepLoads 16-byte loads per lane, all in flight at once (a
/// 4096-wide BF16 row in one), of V scores each; a sweep that holds a score at the bar is read
/// again (from L1 or L2) in rounds of kLoads, which the slow path can hold in registers.
template <typename Score>
struct Round {
  static constexpr int V = 16 / sizeof(Score);
  static constexpr int kLoads = 8;
  static constexpr long long kColumns = static_cast<long long>(kLoads) * kWarp * V;
  static constexpr int kSweepLoads = 2 * kLoads;
  static constexpr long long kSweepColumns = 2 * kColumns;
};

/// The 16 bytes of scores from col on where the tile ends inside them (missing scores read as NaN).
/// Not inlined: it is rare, and inlined into every load it cost the fast path registers.
template <typename Score>
__device__ __noinline__ uint4 ragged_load(const Score* scores, long long col, long long nb) {
  constexpr int V = 16 / sizeof(Score);
  unsigned w[4] = {0, 0, 0, 0};
#pragma unroll
  for (int e = 0; e < V; ++e) {
    const unsigned bits = col + e < nb ? score_bits(scores[col + e]) : score_bits(Score(NAN));
    w[e * sizeof(Score) / 4] |= bits << (8 * ((e * sizeof(Score)) % 4));
  }
  return make_uint4(w[0], w[1], w[2], w[3]);
}

/// Lane's kLoads 16-byte loads of the columns from base on (the tile's ragged end reads as NaN,
/// which passes no bar).
template <typename Score, int kLoads>
__device__ __forceinline__ void load_round(const Score* scores, long long base, long long nb, int lane,
                                           uint4 (&raw)[kLoads]) {
  constexpr int V = 16 / sizeof(Score);
  if (base + static_cast<long long>(kLoads) * kWarp * V <= nb) {  // the common case: one address, fixed offsets
    const uint4* p = reinterpret_cast<const uint4*>(scores + base) + lane;
#pragma unroll
    for (int u = 0; u < kLoads; ++u) raw[u] = p[u * kWarp];
    return;
  }
#pragma unroll
  for (int u = 0; u < kLoads; ++u) {
    const long long col = base + (u * kWarp + lane) * V;
    if (col + V <= nb) {
      raw[u] = *reinterpret_cast<const uint4*>(scores + col);
    } else {
      raw[u] = ragged_load(scores, col, nb);
    }
  }
}

/// One query row of a tile, by one warp (see the top of this file). A sweep that holds a score at
/// the bar is read again round by round; per round: all loads first; the pass bits of each load (V
/// per load, in two 64-bit words); when many scores pass (the list is still empty or weak), a bar
/// from the round itself: the k + 1 best lane maxima
/// are k + 1 scores of the round, so after they are offered the k-th best is at least the
/// (k + 1)-th lane maximum less its rounding and slack (k + 1 because one of them may be the query
/// itself), and nothing below that can enter; then the passing scores, 32 at a time, are held
/// against the rising bar and re-scored one by one.
__device__ __forceinline__ long long query_id(const ScanTile& t, long long row) {
  return t.query_ids ? static_cast<long long>(t.query_ids[row]) : t.query_first + row;
}
__device__ __forceinline__ long long database_id(const ScanTile& t, long long col) {
  return t.database_ids ? static_cast<long long>(t.database_ids[col]) : t.database_first + col;
}

template <typename Score, typename List>
__device__ void scan_row(const ScanTile& t, long long row, int lane, Staged* staging) {
  using R = Round<Score>;
  constexpr int V = R::V;
  const Score* scores = static_cast<const Score*>(t.scores) + row * t.ld;
  // The first sweep's loads go out before the list's and the norms', so the row costs one round
  // trip when nothing in it passes (most rows of most tiles).
  uint4 sweep[R::kSweepLoads];
  load_round<Score, R::kSweepLoads>(scores, 0, t.nb, lane, sweep);
  List list(t.list_sims + row * t.k, reinterpret_cast<long long*>(t.list_ids) + row * t.k, t.k, lane);
  const float* query = t.queries + row * t.dim;
  const long long self = query_id(t, row);
  const float slack = tensor_dot_error_bound(t.query_norm[row], t.query_residual[row], t.database_maxima[0],
                                             t.database_maxima[1], t.dim);
  float floor = -INFINITY;  // a bar from the scores seen in this tile (raised by rounds that pass many)
  float bar = fmaxf(floor, bar_for<Score>(list.kth_s, slack));
  unsigned long long rescored = 0;

  // One round of the columns from base on (the slow path, for a sweep that holds a score at the bar).
  auto scan_round = [&](long long base) {
    uint4 raw[R::kLoads];
    load_round<Score, R::kLoads>(scores, base, t.nb, lane, raw);
    const float lane_max = round_max<Score, R::kLoads>(raw);
    if (!__any_sync(kFullMask, lane_max >= bar)) return;
    auto pass_bits = [&](float b, unsigned long long& lo, unsigned long long& hi) {
      lo = hi = 0;
#pragma unroll
      for (int u = 0; u < R::kLoads; ++u) {
        const Score* x = reinterpret_cast<const Score*>(&raw[u]);
        unsigned m = 0;
#pragma unroll
        for (int e = 0; e < V; ++e) m |= (score_to_float<Score>(x[e]) >= b ? 1u : 0u) << e;
        const int bit = u * V;
        if (bit < 64) lo |= static_cast<unsigned long long>(m) << bit;
        else hi |= static_cast<unsigned long long>(m) << (bit - 64);
      }
    };
    unsigned long long lo, hi;
    pass_bits(bar, lo, hi);

    int passing = __popcll(lo) + __popcll(hi);
    for (int half = kWarp / 2; half >= 1; half /= 2) passing += __shfl_xor_sync(kFullMask, passing, half);
    if (t.k < kWarp && passing > 2 * t.k + kWarp) {
      // The (k + 1)-th largest lane maximum: the largest key with at least k + 1 lanes at or above.
      const unsigned key = order_key(lane_max);
      unsigned kth_key = 0;
      for (int bit = 31; bit >= 0; --bit) {
        const unsigned trial = kth_key | (1u << bit);
        if (__popc(__ballot_sync(kFullMask, key >= trial)) >= t.k + 1) kth_key = trial;
      }
      const float kth_max = __shfl_sync(kFullMask, lane_max, __ffs(__ballot_sync(kFullMask, key == kth_key)) - 1);
      if (kth_max > -INFINITY) {
        // Each of those pairs is at least kth_max - rounding - slack exactly: so is the k-th best.
        const float least_kth = __fsub_rd(__fsub_rd(kth_max, rounding_room<Score>(kth_max)), slack);
        floor = fmaxf(floor, bar_for<Score>(least_kth, slack));
        bar = fmaxf(bar, floor);
        pass_bits(bar, lo, hi);
      }
    }

    for (int u = 0; u < R::kLoads; ++u) {
      const int bit = u * V;
      const unsigned m = static_cast<unsigned>((bit < 64 ? lo >> bit : hi >> (bit - 64))) & ((1u << V) - 1);
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
      // 32 staged pairs at a time are held against the bar in parallel (it rises as the list
      // fills); the survivors are taken in order, one per step.
      for (int c0 = 0; c0 < total; c0 += kWarp) {
        const Staged mine = c0 + lane < total ? staging[c0 + lane] : Staged{0, -INFINITY};
        unsigned pass = __ballot_sync(kFullMask, c0 + lane < total && mine.score >= bar &&
                                                     database_id(t, mine.col) != self);
        while (pass != 0) {
          const int src = __ffs(pass) - 1;
          pass &= pass - 1;
          const int col = __shfl_sync(kFullMask, mine.col, src);
          if (__shfl_sync(kFullMask, mine.score, src) < bar) continue;
          const long long id = database_id(t, col);
          const float s = warp_canonical_similarity(query, t.database + col * t.dim, t.dim, lane);
          ++rescored;
          if (!beats(s, id, list.kth_s, list.kth_id)) continue;
          list.insert(s, id);
          bar = fmaxf(floor, bar_for<Score>(list.kth_s, slack));
        }
      }
      __syncwarp();
    }
  };

  for (long long sweep_base = 0;; sweep_base += R::kSweepColumns) {
    // Most sweeps hold no score at the bar: one packed maximum per lane settles them. (The next
    // sweep is loaded at the end, so the registers of this one are free for the slow path.)
    if (__any_sync(kFullMask, round_max<Score, R::kSweepLoads>(sweep) >= bar))
      for (long long base = sweep_base; base < t.nb && base < sweep_base + R::kSweepColumns; base += R::kColumns)
        scan_round(base);
    if (sweep_base + R::kSweepColumns >= t.nb) break;
    load_round<Score, R::kSweepLoads>(scores, sweep_base + R::kSweepColumns, t.nb, lane, sweep);
  }
  list.store();
  if (lane == 0 && rescored != 0) atomicAdd(t.rescored, rescored);
}

/// Warps take rows round-robin (one row each when the grid covers the tile, the default; several
/// with --gpu-select-sms, whose blocks were meant to run beside the GEMM of the next tile, see
/// tile_search.cpp). Before a row, its warp asks L2 for the scores of its next row, so that row's
/// loads do not wait on DRAM.
template <typename Score, typename List>
__global__ void __launch_bounds__(kScanThreads, kBlocksPerSm) scan_tile_kernel(ScanTile t) {
  extern __shared__ Staged staging[];  // kWarp * V per warp
  constexpr int V = 16 / sizeof(Score);
  const int warp = threadIdx.x / kWarp;
  const int lane = threadIdx.x % kWarp;
  const long long warps = static_cast<long long>(gridDim.x) * (kScanThreads / kWarp);
  const long long row_bytes = t.nb * static_cast<long long>(sizeof(Score));
  for (long long row = static_cast<long long>(blockIdx.x) * (kScanThreads / kWarp) + warp; row < t.nq; row += warps) {
    if (row + warps < t.nq) {
      const char* next = static_cast<const char*>(t.scores) + (row + warps) * t.ld * static_cast<long long>(sizeof(Score));
      for (long long byte = lane * 128LL; byte < row_bytes; byte += kWarp * 128LL)
        asm volatile("prefetch.global.L2 [%0];" ::"l"(next + byte));
    }
    scan_row<Score, List>(t, row, lane, staging + warp * kWarp * V);
  }
}

/// Query row's bar for the filtered GEMM of the next tile, from its k-th best and slack (see
/// prepare_filter); no piece stored yet.
__device__ void prepare_row(const FilteredTile& f, long long row, float kth, float slack) {
  f.bars[row] = bar_for<float>(kth, slack);
  f.filter.marks[row] = 0;
  for (int w = 0; w < f.filter.stored_words; ++w) f.filter.stored[row * f.filter.stored_words + w] = 0;
}

__global__ void prepare_filter_kernel(FilteredTile f) {
  const ScanTile& t = f.scan;
  const long long row = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (row == 0) *f.filter.busy_count = 0;
  if (row >= t.nq) return;
  const float slack = tensor_dot_error_bound(t.query_norm[row], t.query_residual[row], t.database_maxima[0],
                                             t.database_maxima[1], t.dim);
  prepare_row(f, row, t.list_sims[row * t.k + t.k - 1], slack);
}

/// One busy query row of a filtered tile, by one warp: each stored piece (256 BF16 scores, 8 a
/// lane) is taken like scan_row's staged scores, against the rising bar; prepare_next: then the
/// row's bar for the next tile.
__device__ void merge_row(const FilteredTile& f, long long row, int lane, bool prepare_next) {
  const ScanTile& t = f.scan;
  RegisterList list(t.list_sims + row * t.k, reinterpret_cast<long long*>(t.list_ids) + row * t.k, t.k, lane);
  const float* query = t.queries + row * t.dim;
  const long long self = query_id(t, row);
  const float slack = tensor_dot_error_bound(t.query_norm[row], t.query_residual[row], t.database_maxima[0],
                                             t.database_maxima[1], t.dim);
  unsigned long long rescored = 0;
  const auto* pieces = static_cast<const __nv_bfloat16*>(t.scores) + row * t.ld;
  for (int w = 0; w < f.filter.stored_words; ++w) {
    for (unsigned bits = f.filter.stored[row * f.filter.stored_words + w]; bits != 0; bits &= bits - 1) {
      const long long base = (static_cast<long long>(w) * 32 + __ffs(bits) - 1) * WgmmaGemm::kPieceRows;
      const long long col0 = base + lane * 8;
      const uint4 raw = col0 + 8 <= t.nb ? *reinterpret_cast<const uint4*>(pieces + col0)
                                         : (col0 < t.nb ? ragged_load(pieces, col0, t.nb) : make_uint4(~0u, ~0u, ~0u, ~0u));
      const auto* x = reinterpret_cast<const __nv_bfloat16*>(&raw);
#pragma unroll
      for (int e = 0; e < 8; ++e) {
        const float mine = __bfloat162float(x[e]);  // NaN past the end passes no bar
        for (unsigned pass = __ballot_sync(kFullMask, mine >= bar_for<__nv_bfloat16>(list.kth_s, slack)); pass != 0;
             pass &= pass - 1) {
          const int src = __ffs(pass) - 1;
          if (__shfl_sync(kFullMask, mine, src) < bar_for<__nv_bfloat16>(list.kth_s, slack)) continue;
          const long long col = base + src * 8 + e;
          const long long id = database_id(t, col);
          if (id == self) continue;
          const float s = warp_canonical_similarity(query, t.database + col * t.dim, t.dim, lane);
          ++rescored;
          if (beats(s, id, list.kth_s, list.kth_id)) list.insert(s, id);
        }
      }
    }
  }
  list.store();
  if (lane == 0 && rescored != 0) atomicAdd(t.rescored, rescored);
  if (lane == 0 && prepare_next) prepare_row(f, row, list.kth_s, slack);
}

/// The warps of the grid take the busy rows (those the GEMM found a candidate for) in turn: in most
/// tiles a few, so a grid of a warp per row would mostly start warps that find nothing (and with
/// merge_row's registers, few at a time: it cost 27 us a tile, an H100, 16384 rows).
__global__ void __launch_bounds__(kScanThreads) merge_candidates_kernel(FilteredTile f, bool prepare_next) {
  const int lane = threadIdx.x % kWarp;
  const int warps = static_cast<int>(gridDim.x * blockDim.x / kWarp);
  if (prepare_next && blockIdx.x == 0 && threadIdx.x == 0) *f.next_busy_count = 0;
  const int busy = *f.filter.busy_count;
  for (int i = static_cast<int>((blockIdx.x * blockDim.x + threadIdx.x) / kWarp); i < busy; i += warps) {
    merge_row(f, f.filter.busy_rows[i], lane, prepare_next);
  }
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

template <typename Score, typename List>
void launch_scan(const ScanTile& tile, int sms, cudaStream_t stream) {
  constexpr int kSharedBytes = kScanThreads / kWarp * kWarp * (16 / sizeof(Score)) * sizeof(Staged);
  // Beside the GEMM: kBlocksPerSm blocks for each SM of the selection's share; otherwise a warp per row.
  const int blocks = sms > 0 ? sms * kBlocksPerSm
                            : static_cast<int>((tile.nq + kScanThreads / kWarp - 1) / (kScanThreads / kWarp));
  scan_tile_kernel<Score, List><<<blocks, kScanThreads, kSharedBytes, stream>>>(tile);
}

template <typename Score>
void launch_scan(const ScanTile& tile, int sms, cudaStream_t stream) {
  if (tile.k <= kWarp)
    launch_scan<Score, RegisterList>(tile, sms, stream);
  else
    launch_scan<Score, MemoryList>(tile, sms, stream);
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

void scan_tile(const ScanTile& tile, int sms, cudaStream_t stream) {
  if (tile.bf16_scores)
    launch_scan<__nv_bfloat16>(tile, sms, stream);
  else
    launch_scan<float>(tile, sms, stream);
  check_launch("scan_tile_kernel");
}

void prepare_filter(const FilteredTile& tile, cudaStream_t stream) {
  const auto blocks = static_cast<unsigned>((tile.scan.nq + 255) / 256);
  prepare_filter_kernel<<<std::max(blocks, 1u), 256, 0, stream>>>(tile);
  check_launch("prepare_filter_kernel");
}

void merge_candidates(const FilteredTile& tile, bool prepare_next, cudaStream_t stream) {
  if (tile.scan.k > kWarp || !tile.scan.bf16_scores)
    throw InternalError("merge_candidates: k <= 32 and BF16 pieces only");
  // As many warps as fit at once (merge_row's registers allow 4 blocks an SM), at most a warp a row.
  static const int sms = [] {
    int device = 0, count = 0;
    check(cudaGetDevice(&device), "cudaGetDevice");
    check(cudaDeviceGetAttribute(&count, cudaDevAttrMultiProcessorCount, device), "cudaDeviceGetAttribute");
    return count;
  }();
  constexpr long long kRows = kScanThreads / kWarp;
  const long long blocks = std::min<long long>(4LL * sms, (tile.scan.nq + kRows - 1) / kRows);
  merge_candidates_kernel<<<static_cast<unsigned>(std::max<long long>(blocks, 1)), kScanThreads, 0, stream>>>(
      tile, prepare_next);
  check_launch("merge_candidates_kernel");
}

bool kernels_available() {
  cudaFuncAttributes attributes{};
  const cudaError_t status = cudaFuncGetAttributes(&attributes, scan_tile_kernel<__nv_bfloat16, RegisterList>);
  if (status != cudaSuccess) cudaGetLastError();
  return status == cudaSuccess;
}

}  // namespace weave::knn::cuda
