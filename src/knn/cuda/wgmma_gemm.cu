// A BF16 GEMM of our own on Hopper tensor cores (wgmma, TMA, a warp-specialized pipeline), the
// first step towards a score tile that never reaches DRAM: run() writes the BF16 tile, so that it
// can be checked against cuBLASLt and timed; run_filtered() writes only the pairs that reach their
// query's bar (docs/algorithms.md). EXPERIMENT, branch only: written without a GPU, not yet run.
//
// out[q * ld + x] = queries_q . database_x (FP32 accumulation, rounded to BF16), the layout of
// ScoreGemm with a = database, b = queries. Rows are BF16, dim a multiple of 8 (16-byte rows for
// TMA; columns past dim and rows past the ends read as zeros).
//
// CTA: 3 warpgroups. Warpgroup 0 loads (one thread issues TMA copies of a 128-query x 64 and a
// 256-row x 64 slab per stage, kStages stages); warpgroups 1 and 2 each multiply 64 of the 128
// queries by the 256 database rows with m64n256k16 wgmma (128 FP32 accumulators a thread), then
// store or filter. Persistent: a CTA per SM walks the tiles; the loader runs ahead into the next tile while
// the multipliers store. mbarriers: full[s] (TMA bytes landed), empty[s] (both multipliers done).
#include "knn/cuda/wgmma_gemm.hpp"

#include <cuda.h>
#include <cudaTypedefs.h>
#include <cuda_bf16.h>

#include <algorithm>

#include <fmt/format.h>

#include "knn/cuda/cuda_check.hpp"
#include "weave/error.hpp"

namespace weave::knn::cuda {

namespace {

constexpr int kBlockQueries = 128;   // BM: two multiplier warpgroups of 64
constexpr int kBlockDatabase = 256;  // BN: one m64n256 wgmma wide
constexpr int kBlockK = 64;          // 64 BF16 = 128 bytes: one swizzle row
constexpr int kStages = 4;
constexpr int kThreads = 384;
constexpr int kStageQueryBytes = kBlockQueries * kBlockK * 2;     // 16 KB
constexpr int kStageDatabaseBytes = kBlockDatabase * kBlockK * 2;  // 32 KB
constexpr int kSharedBytes = kStages * (kStageQueryBytes + kStageDatabaseBytes) + 1024 + 2 * kStages * 8;

/// What a launch computes: the tile's scores out (kFilter = false), or (kFilter = true) for each
/// query q the candidates x with score >= bars[q], appended to slots[q * capacity ...] (counts[q]
/// counts them all, so a count above capacity says some were dropped).
struct Problem {
  __nv_bfloat16* out;
  const float* bars;
  WgmmaGemm::Candidate* slots;
  int* counts;
  int capacity;
  long long ld, nq, nb;
  int k_blocks, tiles_q, tiles_x;
};

#if defined(__CUDA_ARCH_FEAT_SM90_ALL)

__device__ __forceinline__ std::uint32_t shared_address(const void* p) {
  return static_cast<std::uint32_t>(__cvta_generic_to_shared(p));
}

__device__ __forceinline__ void barrier_init(std::uint64_t* bar, int count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;" ::"r"(shared_address(bar)), "r"(count));
}
__device__ __forceinline__ void barrier_expect_bytes(std::uint64_t* bar, std::uint32_t bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;" ::"r"(shared_address(bar)), "r"(bytes)
               : "memory");
}
__device__ __forceinline__ void barrier_arrive(std::uint64_t* bar) {
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];" ::"r"(shared_address(bar)) : "memory");
}
/// Waits until the phase with this parity has completed (a fresh barrier counts parity 1 as done).
__device__ __forceinline__ void barrier_wait(std::uint64_t* bar, int parity) {
  asm volatile(
      "{\n.reg .pred done;\nwait_again:\n"
      "mbarrier.try_wait.parity.shared::cta.b64 done, [%0], %1;\n"
      "@!done bra wait_again;\n}\n" ::"r"(shared_address(bar)),
      "r"(parity)
      : "memory");
}

/// TMA: the box at (k, row) of the tensor map into shared memory; completes bytes on bar.
__device__ __forceinline__ void tma_load(void* dst, const CUtensorMap* map, int k, int row, std::uint64_t* bar) {
  asm volatile(
      "cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3}], [%4];" ::"r"(
          shared_address(dst)),
      "l"(map), "r"(k), "r"(row), "r"(shared_address(bar))
      : "memory");
}

/// The wgmma descriptor of a K-major operand in shared memory with the 128-byte swizzle: rows of
/// 128 bytes, 8-row atoms of 1024 bytes (the stride between atoms), base 1024-byte aligned.
__device__ __forceinline__ std::uint64_t operand_descriptor(const void* smem) {
  const std::uint64_t address = shared_address(smem);
  return ((address & 0x3FFFF) >> 4) | (std::uint64_t{1} << 16) | (std::uint64_t{1024 >> 4} << 32) |
         (std::uint64_t{1} << 62);
}

/// d (64 x 256 FP32, the wgmma fragment) += A (64 x 16) . B (16 x 256), both K-major in shared memory
/// with the 128-byte swizzle, described by desc_a / desc_b; scale_d = 0 overwrites d instead.
__device__ __forceinline__ void wgmma_m64n256k16(float (&d)[128], std::uint64_t desc_a, std::uint64_t desc_b,
                                                 int scale_d) {
  asm volatile(
      "{\n.reg .pred p;\nsetp.ne.b32 p, %130, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n256k16.f32.bf16.bf16 {%0,%1,%2,%3,%4,%5,%6,%7,%8,%9,%10,%11,%12,%13,%14,%15,%16,%17,%18,%19,%20,%21,%22,%23,%24,%25,%26,%27,%28,%29,%30,%31,%32,%33,%34,%35,%36,%37,%38,%39,%40,%41,%42,%43,%44,%45,%46,%47,%48,%49,%50,%51,%52,%53,%54,%55,%56,%57,%58,%59,%60,%61,%62,%63,%64,%65,%66,%67,%68,%69,%70,%71,%72,%73,%74,%75,%76,%77,%78,%79,%80,%81,%82,%83,%84,%85,%86,%87,%88,%89,%90,%91,%92,%93,%94,%95,%96,%97,%98,%99,%100,%101,%102,%103,%104,%105,%106,%107,%108,%109,%110,%111,%112,%113,%114,%115,%116,%117,%118,%119,%120,%121,%122,%123,%124,%125,%126,%127}, %128, %129, p, 1, 1, 0, 0;\n}\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63]), "+f"(d[64]), "+f"(d[65]), "+f"(d[66]), "+f"(d[67]), "+f"(d[68]), "+f"(d[69]), "+f"(d[70]), "+f"(d[71]), "+f"(d[72]), "+f"(d[73]), "+f"(d[74]), "+f"(d[75]), "+f"(d[76]), "+f"(d[77]), "+f"(d[78]), "+f"(d[79]), "+f"(d[80]), "+f"(d[81]), "+f"(d[82]), "+f"(d[83]), "+f"(d[84]), "+f"(d[85]), "+f"(d[86]), "+f"(d[87]), "+f"(d[88]), "+f"(d[89]), "+f"(d[90]), "+f"(d[91]), "+f"(d[92]), "+f"(d[93]), "+f"(d[94]), "+f"(d[95]), "+f"(d[96]), "+f"(d[97]), "+f"(d[98]), "+f"(d[99]), "+f"(d[100]), "+f"(d[101]), "+f"(d[102]), "+f"(d[103]), "+f"(d[104]), "+f"(d[105]), "+f"(d[106]), "+f"(d[107]), "+f"(d[108]), "+f"(d[109]), "+f"(d[110]), "+f"(d[111]), "+f"(d[112]), "+f"(d[113]), "+f"(d[114]), "+f"(d[115]), "+f"(d[116]), "+f"(d[117]), "+f"(d[118]), "+f"(d[119]), "+f"(d[120]), "+f"(d[121]), "+f"(d[122]), "+f"(d[123]), "+f"(d[124]), "+f"(d[125]), "+f"(d[126]), "+f"(d[127])
      : "l"(desc_a), "l"(desc_b), "r"(scale_d));
}

/// Pins the accumulators in place around the asynchronous multiplies: the compiler sees each register
/// read and written here, so it moves no use of them across the wgmma wait (as CUTLASS does).
__device__ __forceinline__ void fence_accumulators(float (&d)[128]) {
#pragma unroll
  for (int i = 0; i < 128; ++i) asm volatile("" : "+f"(d[i])::"memory");
}

__device__ __forceinline__ void wgmma_fence() { asm volatile("wgmma.fence.sync.aligned;" ::: "memory"); }
__device__ __forceinline__ void wgmma_commit() { asm volatile("wgmma.commit_group.sync.aligned;" ::: "memory"); }
__device__ __forceinline__ void wgmma_wait_all() { asm volatile("wgmma.wait_group.sync.aligned 0;" ::: "memory"); }

template <bool kFilter>
__global__ void __launch_bounds__(kThreads, 1)
    wgmma_gemm_kernel(const __grid_constant__ CUtensorMap query_map, const __grid_constant__ CUtensorMap database_map,
                      Problem p) {
  extern __shared__ __align__(1024) unsigned char shared_raw[];
  // TMA with the 128-byte swizzle wants 1024-byte aligned destinations.
  unsigned char* shared = reinterpret_cast<unsigned char*>(
      (reinterpret_cast<std::uintptr_t>(shared_raw) + 1023) & ~std::uintptr_t{1023});
  unsigned char* query_stage = shared;
  unsigned char* database_stage = shared + kStages * kStageQueryBytes;
  auto* full = reinterpret_cast<std::uint64_t*>(database_stage + kStages * kStageDatabaseBytes);
  std::uint64_t* empty = full + kStages;
  const int warpgroup = threadIdx.x / 128;
  const int tiles = p.tiles_q * p.tiles_x;
  if (threadIdx.x == 0) {
    for (int s = 0; s < kStages; ++s) {
      barrier_init(&full[s], 1);
      barrier_init(&empty[s], 2);
    }
    asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory");
  }
  __syncthreads();

  if (warpgroup == 0) {  // the loader
    if (threadIdx.x != 0) return;
    int stage = 0, phase = 0;
    for (int tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
      const int q0 = tile / p.tiles_x * kBlockQueries, x0 = tile % p.tiles_x * kBlockDatabase;
      for (int kb = 0; kb < p.k_blocks; ++kb) {
        barrier_wait(&empty[stage], phase ^ 1);
        barrier_expect_bytes(&full[stage], kStageQueryBytes + kStageDatabaseBytes);
        tma_load(query_stage + stage * kStageQueryBytes, &query_map, kb * kBlockK, q0, &full[stage]);
        tma_load(database_stage + stage * kStageDatabaseBytes, &database_map, kb * kBlockK, x0, &full[stage]);
        if (++stage == kStages) stage = 0, phase ^= 1;
      }
    }
    return;
  }

  // A multiplier: queries [64 (warpgroup - 1), + 64) of the tile.
  const int t = threadIdx.x % 128, warp = t / 32, lane = t % 32;
  const int half = warpgroup - 1;
  int stage = 0, phase = 0;
  float d[128] = {};
  for (int tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
    const long long q0 = static_cast<long long>(tile / p.tiles_x) * kBlockQueries + 64 * half;
    const long long x0 = static_cast<long long>(tile % p.tiles_x) * kBlockDatabase;
    for (int kb = 0; kb < p.k_blocks; ++kb) {
      barrier_wait(&full[stage], phase);
      const std::uint64_t a = operand_descriptor(query_stage + stage * kStageQueryBytes + half * 64 * 128);
      const std::uint64_t b = operand_descriptor(database_stage + stage * kStageDatabaseBytes);
      fence_accumulators(d);
      wgmma_fence();
#pragma unroll
      for (int k = 0; k < kBlockK / 16; ++k)  // 16 BF16 = 32 bytes = 2 descriptor units further
        wgmma_m64n256k16(d, a + 2 * k, b + 2 * k, kb > 0 || k > 0);
      wgmma_commit();
      wgmma_wait_all();
      fence_accumulators(d);
      if (t == 0) barrier_arrive(&empty[stage]);
      if (++stage == kStages) stage = 0, phase ^= 1;
    }
    // The fragment: warp w holds rows 16w + lane/4 (+ 8); register 4j + {0,1} columns 8j + 2(lane%4)
    // + {0,1} of the first row, 4j + {2,3} the same columns of the second.
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      const long long q = q0 + 16 * warp + lane / 4 + 8 * r;
      if (q >= p.nq) continue;
      if constexpr (kFilter) {
        const float bar = p.bars[q];
#pragma unroll
        for (int j = 0; j < 32; ++j)
#pragma unroll
          for (int e = 0; e < 2; ++e) {
            const long long x = x0 + 8 * j + 2 * (lane % 4) + e;
            const float score = d[4 * j + 2 * r + e];
            if (x < p.nb && score >= bar) {
              const int slot = atomicAdd(&p.counts[q], 1);
              if (slot < p.capacity) p.slots[q * p.capacity + slot] = {static_cast<int>(x), score};
            }
          }
      } else {
        __nv_bfloat16* row = p.out + q * p.ld;
#pragma unroll
        for (int j = 0; j < 32; ++j) {
          const long long x = x0 + 8 * j + 2 * (lane % 4);
          const float lo = d[4 * j + 2 * r], hi = d[4 * j + 2 * r + 1];
          if (x + 1 < p.nb) {
            *reinterpret_cast<__nv_bfloat162*>(row + x) = __floats2bfloat162_rn(lo, hi);
          } else if (x < p.nb) {
            row[x] = __float2bfloat16_rn(lo);
          }
        }
      }
    }
  }
}

#else  // no sm_90a in this compilation pass: the kernel exists, and says so when it runs

template <bool kFilter>
__global__ void wgmma_gemm_kernel(const __grid_constant__ CUtensorMap, const __grid_constant__ CUtensorMap, Problem) {
  __trap();
}

#endif

/// A 2D tensor map of rows x dim BF16 values (row stride dim), boxes of box_rows x kBlockK, 128-byte
/// swizzle; out of range reads as zeros.
CUtensorMap row_map(const std::uint16_t* rows, long long count, long long dim, int box_rows) {
  static PFN_cuTensorMapEncodeTiled_v12000 encode = [] {
    void* f = nullptr;
    cudaDriverEntryPointQueryResult found{};
    check(cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &f, 12000, cudaEnableDefault, &found),
          "cudaGetDriverEntryPointByVersion(cuTensorMapEncodeTiled)");
    if (found != cudaDriverEntryPointSuccess || f == nullptr)
      throw InternalError("the CUDA driver has no cuTensorMapEncodeTiled");
    return reinterpret_cast<PFN_cuTensorMapEncodeTiled_v12000>(f);
  }();
  CUtensorMap map{};
  const cuuint64_t size[2] = {static_cast<cuuint64_t>(dim), static_cast<cuuint64_t>(count)};
  const cuuint64_t stride[1] = {static_cast<cuuint64_t>(dim) * 2};
  const cuuint32_t box[2] = {kBlockK, static_cast<cuuint32_t>(box_rows)};
  const cuuint32_t element_stride[2] = {1, 1};
  const CUresult status =
      encode(&map, CU_TENSOR_MAP_DATA_TYPE_BFLOAT16, 2, const_cast<std::uint16_t*>(rows), size, stride, box,
             element_stride, CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B,
             CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  if (status != CUDA_SUCCESS) throw InternalError(fmt::format("cuTensorMapEncodeTiled failed ({})", static_cast<int>(status)));
  return map;
}

}  // namespace

WgmmaGemm::WgmmaGemm(std::int64_t dim, std::int64_t ld) : dim_(dim), ld_(ld) {
  if (dim % 8 != 0) throw InternalError(fmt::format("WgmmaGemm: dim {} is not a multiple of 8", dim));
  int device = 0;
  check(cudaGetDevice(&device), "cudaGetDevice");
  check(cudaDeviceGetAttribute(&sms_, cudaDevAttrMultiProcessorCount, device), "cudaDeviceGetAttribute");
  cudaFuncAttributes attributes{};
  if (cudaFuncGetAttributes(&attributes, wgmma_gemm_kernel<false>) != cudaSuccess) {
    cudaGetLastError();
    throw InternalError("WgmmaGemm: this build has no sm_90a kernel for the current GPU (it needs an H100/H200)");
  }
  for (const void* kernel : {reinterpret_cast<const void*>(wgmma_gemm_kernel<false>),
                             reinterpret_cast<const void*>(wgmma_gemm_kernel<true>)})
    check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, kSharedBytes),
          "cudaFuncSetAttribute(wgmma_gemm_kernel)");
}

namespace {

Problem problem(std::int64_t dim, std::int64_t ld, std::int64_t nq, std::int64_t nb) {
  Problem p{};
  p.ld = ld;
  p.nq = nq;
  p.nb = nb;
  p.k_blocks = static_cast<int>((dim + kBlockK - 1) / kBlockK);
  p.tiles_q = static_cast<int>((nq + kBlockQueries - 1) / kBlockQueries);
  p.tiles_x = static_cast<int>((nb + kBlockDatabase - 1) / kBlockDatabase);
  return p;
}

}  // namespace

void WgmmaGemm::run(const std::uint16_t* queries, std::int64_t nq, const std::uint16_t* database, std::int64_t nb,
                    std::uint16_t* out, cudaStream_t stream) {
  const CUtensorMap query_map = row_map(queries, nq, dim_, kBlockQueries);
  const CUtensorMap database_map = row_map(database, nb, dim_, kBlockDatabase);
  Problem p = problem(dim_, ld_, nq, nb);
  p.out = reinterpret_cast<__nv_bfloat16*>(out);
  wgmma_gemm_kernel<false><<<std::min(p.tiles_q * p.tiles_x, sms_), kThreads, kSharedBytes, stream>>>(
      query_map, database_map, p);
  check_launch("wgmma_gemm_kernel");
}

void WgmmaGemm::run_filtered(const std::uint16_t* queries, std::int64_t nq, const std::uint16_t* database,
                             std::int64_t nb, const float* bars, Candidate* slots, int* counts, int capacity,
                             cudaStream_t stream) {
  const CUtensorMap query_map = row_map(queries, nq, dim_, kBlockQueries);
  const CUtensorMap database_map = row_map(database, nb, dim_, kBlockDatabase);
  Problem p = problem(dim_, ld_, nq, nb);
  p.bars = bars;
  p.slots = slots;
  p.counts = counts;
  p.capacity = capacity;
  wgmma_gemm_kernel<true><<<std::min(p.tiles_q * p.tiles_x, sms_), kThreads, kSharedBytes, stream>>>(
      query_map, database_map, p);
  check_launch("wgmma_gemm_kernel (filtered)");
}

}  // namespace weave::knn::cuda
