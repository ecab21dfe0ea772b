// A BF16 GEMM of our own on Hopper tensor cores (wgmma, TMA, a warp-specialized pipeline), so that
// the score tile need not reach DRAM: run_filtered() writes only the pieces of score rows that
// reach their query's bar (docs/algorithms.md, "The own filtering GEMM"); run() writes the BF16
// tile, so that the kernel can be checked against cuBLASLt and timed.
//
// out[q * ld + x] = queries_q . database_x (FP32 accumulation, rounded to BF16), the layout of
// ScoreGemm with a = database, b = queries. Rows are BF16, dim a multiple of 8 (16-byte rows for
// TMA; columns past dim and rows past the ends read as zeros).
//
// CTA: 3 warpgroups. Warpgroup 0 loads (one thread issues TMA copies of a 128-query x 64 slab and
// its half of a 256-row x 64 slab, multicast to both CTAs of its cluster, per stage); warpgroups 1
// and 2 each multiply 64 of the 128 queries by the 256 database rows with m64n256k16 wgmma (128
// FP32 accumulators a thread), then store or filter. Persistent: a cluster per pair of SMs walks
// the work; the loader runs ahead into the next tile while the multipliers store. mbarriers:
// full[s] (TMA bytes landed), empty[s] (the multipliers of both CTAs done with the stage).
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
// A stage holds kBlockK values of each row (one swizzled row of 2 kBlockK bytes): 4 stages of 64
// fill the shared memory. (9 stages of 32, the loader further ahead, measured 40% slower: the
// per-stage synchronization, not the data, was the cost.)
constexpr int kBlockK = 64;
constexpr int kSwizzleBytes = kBlockK * 2;
constexpr int kSwizzleAtom = 8 * kSwizzleBytes;  // 8 rows: the alignment and the wgmma stride
constexpr int kThreads = 384;
// Two CTAs form a cluster: they multiply two neighbouring 128-query blocks by the same 256 database
// rows, each loading half of those rows into both (TMA multicast): 32 instead of 48 KB from L2 per k
// block and CTA (measured 3% faster than single CTAs).
constexpr int kClusterSize = 2;
constexpr int kStageQueryBytes = kBlockQueries * kBlockK * 2;
constexpr int kStageDatabaseBytes = kBlockDatabase * kBlockK * 2;
constexpr int kMaxShared = 227 * 1024;  // per CTA on sm_90
constexpr int kStages = (kMaxShared - 1024 - 2 * 16 * 8) / (kStageQueryBytes + kStageDatabaseBytes);
constexpr int kSharedBytes = kStages * (kStageQueryBytes + kStageDatabaseBytes) + 1024 + 2 * kStages * 8;
static_assert(kSharedBytes <= kMaxShared);

/// What a launch computes: the tile's scores out (kFilter = false), or (kFilter = true) only the
/// pieces of score rows that reach their query's bar (WgmmaGemm::Filter).
struct Problem {
  __nv_bfloat16* out;  ///< the tile, or (filtered) the pieces
  const float* bars;   ///< filtered: WgmmaGemm::Filter
  unsigned* stored;
  int stored_words;
  int* marks;
  int* busy_rows;
  int* busy_count;
  long long ld, nq, nb;
  int k_blocks, tiles_q, tiles_x;
  int units;  ///< (pair of query blocks, database block): a cluster's work item
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
/// Arrives on the barrier at the same place in CTA `cta` of the cluster (this CTA's own included).
/// Default semantics (release, CTA scope), as CUTLASS's cluster barriers: .release.cluster (and
/// .acquire.cluster on the wait) made the kernel 25% slower on an H100.
__device__ __forceinline__ void barrier_arrive_in(std::uint64_t* bar, std::uint32_t cta) {
  asm volatile(
      "{\n.reg .b32 remote;\nmapa.shared::cluster.u32 remote, %0, %1;\n"
      "mbarrier.arrive.shared::cluster.b64 _, [remote];\n}" ::"r"(shared_address(bar)),
      "r"(cta)
      : "memory");
}
__device__ __forceinline__ std::uint32_t cluster_rank() {
  std::uint32_t rank;
  asm volatile("mov.u32 %0, %%cluster_ctarank;" : "=r"(rank));
  return rank;
}
/// Every thread of every CTA of the cluster (not warp-aligned: the loader warp diverges).
__device__ __forceinline__ void cluster_sync() {
  asm volatile("barrier.cluster.arrive.release;\nbarrier.cluster.wait.acquire;" ::: "memory");
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

/// TMA multicast: the box at (k, row) into the same place of every CTA in cta_mask, completing its
/// bytes on each one's barrier at bar's place.
__device__ __forceinline__ void tma_load_multicast(void* dst, const CUtensorMap* map, int k, int row,
                                                   std::uint64_t* bar, std::uint16_t cta_mask) {
  asm volatile(
      "cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes.multicast::cluster [%0], [%1, {%2, "
      "%3}], [%4], %5;" ::"r"(shared_address(dst)),
      "l"(map), "r"(k), "r"(row), "r"(shared_address(bar)), "h"(cta_mask)
      : "memory");
}

/// The wgmma descriptor of a K-major operand in shared memory with the kSwizzleBytes swizzle (layout
/// type 1 for 128 bytes, 2 for 64): rows of kSwizzleBytes, 8-row atoms (the stride between them), base
/// aligned to an atom.
__device__ __forceinline__ std::uint64_t operand_descriptor(const void* smem) {
  const std::uint64_t address = shared_address(smem);
  constexpr std::uint64_t layout = kSwizzleBytes == 128 ? 1 : 2;
  return ((address & 0x3FFFF) >> 4) | (std::uint64_t{1} << 16) | (std::uint64_t{kSwizzleAtom >> 4} << 32) |
         (layout << 62);
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
__device__ __forceinline__ void wgmma_wait_one() { asm volatile("wgmma.wait_group.sync.aligned 1;" ::: "memory"); }

template <bool kFilter>
__global__ void __launch_bounds__(kThreads, 1)
    wgmma_gemm_kernel(const __grid_constant__ CUtensorMap query_map, const __grid_constant__ CUtensorMap database_map,
                      Problem p) {
  extern __shared__ __align__(1024) unsigned char shared_raw[];
  // TMA with a swizzle wants destinations aligned to its atom (1024 bytes covers both).
  unsigned char* shared = reinterpret_cast<unsigned char*>(
      (reinterpret_cast<std::uintptr_t>(shared_raw) + 1023) & ~std::uintptr_t{1023});
  unsigned char* query_stage = shared;
  unsigned char* database_stage = shared + kStages * kStageQueryBytes;
  auto* full = reinterpret_cast<std::uint64_t*>(database_stage + kStages * kStageDatabaseBytes);
  std::uint64_t* empty = full + kStages;
  const int warpgroup = threadIdx.x / 128;
  const std::uint32_t rank = cluster_rank();
  const int cluster = blockIdx.x / kClusterSize, clusters = gridDim.x / kClusterSize;
  if (threadIdx.x == 0) {
    for (int s = 0; s < kStages; ++s) {
      barrier_init(&full[s], 1);                    // the loader's expect_tx; the bytes do the rest
      barrier_init(&empty[s], 2 * kClusterSize);  // both multipliers of both CTAs: the stage is shared
    }
    asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory");
  }
  cluster_sync();  // no multicast may reach a barrier of the other CTA before it exists

  if (warpgroup == 0) {  // the loader
    if (threadIdx.x == 0) {
      int stage = 0, phase = 0;
      for (int unit = cluster; unit < p.units; unit += clusters) {
        const int q0 = (unit / p.tiles_x * kClusterSize + static_cast<int>(rank)) * kBlockQueries;
        const int x0 = unit % p.tiles_x * kBlockDatabase + static_cast<int>(rank) * (kBlockDatabase / kClusterSize);
        for (int kb = 0; kb < p.k_blocks; ++kb) {
          barrier_wait(&empty[stage], phase ^ 1);
          barrier_expect_bytes(&full[stage], kStageQueryBytes + kStageDatabaseBytes);
          tma_load(query_stage + stage * kStageQueryBytes, &query_map, kb * kBlockK, q0, &full[stage]);
          tma_load_multicast(database_stage + stage * kStageDatabaseBytes + rank * (kStageDatabaseBytes / kClusterSize),
                             &database_map, kb * kBlockK, x0, &full[stage], (1u << kClusterSize) - 1);
          if (++stage == kStages) stage = 0, phase ^= 1;
        }
      }
    }
    cluster_sync();  // nobody leaves while the other CTA may still arrive here
    return;
  }

  // A multiplier: queries [64 (warpgroup - 1), + 64) of the tile.
  const int t = threadIdx.x % 128, warp = t / 32, lane = t % 32;
  const int half = warpgroup - 1;
  int stage = 0, phase = 0;
  float d[128] = {};
  for (int unit = cluster; unit < p.units; unit += clusters) {
    const long long q0 = static_cast<long long>(unit / p.tiles_x * kClusterSize + rank) * kBlockQueries + 64 * half;
    const long long x0 = static_cast<long long>(unit % p.tiles_x) * kBlockDatabase;
    // The bars of this thread's two rows, fetched now so that their latency hides behind the products.
    float bars[2] = {0.0f, 0.0f};
    if constexpr (kFilter)
#pragma unroll
      for (int r = 0; r < 2; ++r) {
        const long long q = q0 + 16 * warp + lane / 4 + 8 * r;
        if (q < p.nq) bars[r] = p.bars[q];
      }
    // One batch of multiplies stays in flight: k block kb is issued before kb - 1 is waited for, so
    // the tensor cores never wait for this warpgroup to issue; a stage is released once read.
    int previous = -1;
    for (int kb = 0; kb < p.k_blocks; ++kb) {
      barrier_wait(&full[stage], phase);
      const std::uint64_t a = operand_descriptor(query_stage + stage * kStageQueryBytes + half * 64 * kSwizzleBytes);
      const std::uint64_t b = operand_descriptor(database_stage + stage * kStageDatabaseBytes);
      fence_accumulators(d);
      wgmma_fence();
#pragma unroll
      for (int k = 0; k < kBlockK / 16; ++k)  // 16 BF16 = 32 bytes = 2 descriptor units further
        wgmma_m64n256k16(d, a + 2 * k, b + 2 * k, kb > 0 || k > 0);
      wgmma_commit();
      wgmma_wait_one();
      fence_accumulators(d);
      if (previous >= 0 && t < kClusterSize) barrier_arrive_in(&empty[previous], t);
      previous = stage;
      if (++stage == kStages) stage = 0, phase ^= 1;
    }
    wgmma_wait_all();
    fence_accumulators(d);
    if (previous >= 0 && t < kClusterSize) barrier_arrive_in(&empty[previous], t);
    // The fragment: warp w holds rows 16w + lane/4 (+ 8); register 4j + {0,1} columns 8j + 2(lane%4)
    // + {0,1} of the first row, 4j + {2,3} the same columns of the second.
    // A row of the block: its 256 columns, rounded to BF16, into out.
    auto store_row = [&](int r, long long q) {
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
    };
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      const long long q = q0 + 16 * warp + lane / 4 + 8 * r;
      const bool live = q < p.nq;
      if constexpr (kFilter) {
        // Almost always nothing in the row's piece reaches the bar: a maximum settles it in a few
        // compact instructions. (Appending each passing score to a list instead, a hundred
        // atomics' worth of code interleaved with the compares, ran the kernel at 550 TFLOP/s
        // instead of 675 on an H100, even with no score passing.)
        float most = -INFINITY;
#pragma unroll
        for (int j = 0; j < 32; ++j) most = fmaxf(most, fmaxf(d[4 * j + 2 * r], d[4 * j + 2 * r + 1]));
        // The piece (256 columns of the row) is in the 4 lanes of a quad: any of them decides.
        bool pass = live && most >= bars[r];
        pass = __shfl_xor_sync(0xffffffffu, pass ? 1 : 0, 1) != 0 || pass;
        pass = __shfl_xor_sync(0xffffffffu, pass ? 1 : 0, 2) != 0 || pass;
        if (pass) {
          store_row(r, q);
          if (lane % 4 == 0) {
            const int piece = static_cast<int>(x0 / kBlockDatabase);
            atomicOr(&p.stored[q * p.stored_words + piece / 32], 1u << (piece % 32));
            if (atomicAdd(&p.marks[q], 1) == 0) p.busy_rows[atomicAdd(p.busy_count, 1)] = static_cast<int>(q);
          }
        }
      } else if (live) {
        store_row(r, q);
      }
    }
  }
  cluster_sync();  // the loader's counterpart: the other CTA's last arrivals on our barriers are in
}

#else  // no sm_90a in this compilation pass: the kernel exists, and says so when it runs

template <bool kFilter>
__global__ void wgmma_gemm_kernel(const __grid_constant__ CUtensorMap, const __grid_constant__ CUtensorMap, Problem) {
  __trap();
}

#endif

/// A 2D tensor map of rows x dim BF16 values (row stride dim), boxes of box_rows x kBlockK, swizzled
/// as the descriptors expect; out of range reads as zeros.
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
             element_stride, CU_TENSOR_MAP_INTERLEAVE_NONE,
             kSwizzleBytes == 128 ? CU_TENSOR_MAP_SWIZZLE_128B : CU_TENSOR_MAP_SWIZZLE_64B,
             CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  if (status != CUDA_SUCCESS) throw InternalError(fmt::format("cuTensorMapEncodeTiled failed ({})", static_cast<int>(status)));
  return map;
}

/// A launch of grid CTAs in clusters of kClusterSize (cluster: the attribute, kept by the caller).
cudaLaunchConfig_t launch_config(int grid, cudaStream_t stream, cudaLaunchAttribute& cluster) {
  cudaLaunchConfig_t config{};
  config.gridDim = dim3(static_cast<unsigned>(grid));
  config.blockDim = dim3(kThreads);
  config.dynamicSmemBytes = kSharedBytes;
  config.stream = stream;
  cluster.id = cudaLaunchAttributeClusterDimension;
  cluster.val.clusterDim.x = kClusterSize;
  cluster.val.clusterDim.y = 1;
  cluster.val.clusterDim.z = 1;
  config.attrs = &cluster;
  config.numAttrs = 1;
  return config;
}

/// Clusters of the kernel resident at once: the persistent grid (a GPC with an odd number of free
/// SMs leaves one idle with pairs).
template <bool kFilter>
int resident_clusters(int sms) {
  check(cudaFuncSetAttribute(wgmma_gemm_kernel<kFilter>, cudaFuncAttributeMaxDynamicSharedMemorySize, kSharedBytes),
        "cudaFuncSetAttribute(wgmma_gemm_kernel)");
  cudaLaunchAttribute cluster{};
  const cudaLaunchConfig_t config = launch_config(sms / kClusterSize * kClusterSize, nullptr, cluster);
  int clusters = 0;
  check(cudaOccupancyMaxActiveClusters(&clusters, wgmma_gemm_kernel<kFilter>, &config),
        "cudaOccupancyMaxActiveClusters(wgmma_gemm_kernel)");
  if (clusters < 1) throw InternalError("WgmmaGemm: no cluster of the kernel fits on this GPU");
  return clusters;
}

template <bool kFilter>
void launch(const CUtensorMap& query_map, const CUtensorMap& database_map, const Problem& p, int clusters,
            cudaStream_t stream) {
  cudaLaunchAttribute cluster{};
  const cudaLaunchConfig_t config = launch_config(std::min(p.units, clusters) * kClusterSize, stream, cluster);
  check(cudaLaunchKernelEx(&config, wgmma_gemm_kernel<kFilter>, query_map, database_map, p),
        "cudaLaunchKernelEx(wgmma_gemm_kernel)");
}

Problem problem(std::int64_t dim, std::int64_t ld, std::int64_t nq, std::int64_t nb) {
  Problem p{};
  p.ld = ld;
  p.nq = nq;
  p.nb = nb;
  p.k_blocks = static_cast<int>((dim + kBlockK - 1) / kBlockK);
  p.tiles_q = static_cast<int>((nq + kBlockQueries - 1) / kBlockQueries);
  p.tiles_x = static_cast<int>((nb + kBlockDatabase - 1) / kBlockDatabase);
  p.units = (p.tiles_q + kClusterSize - 1) / kClusterSize * p.tiles_x;
  return p;
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
  clusters_ = std::min(resident_clusters<false>(sms_), resident_clusters<true>(sms_));
}

void WgmmaGemm::run(const std::uint16_t* queries, std::int64_t nq, const std::uint16_t* database, std::int64_t nb,
                    std::uint16_t* out, cudaStream_t stream) {
  const CUtensorMap query_map = row_map(queries, nq, dim_, kBlockQueries);
  const CUtensorMap database_map = row_map(database, nb, dim_, kBlockDatabase / kClusterSize);
  Problem p = problem(dim_, ld_, nq, nb);
  p.out = reinterpret_cast<__nv_bfloat16*>(out);
  launch<false>(query_map, database_map, p, clusters_, stream);
}

void WgmmaGemm::run_filtered(const std::uint16_t* queries, std::int64_t nq, const std::uint16_t* database,
                             std::int64_t nb, const Filter& filter, cudaStream_t stream) {
  static_assert(kPieceRows == kBlockDatabase);
  const CUtensorMap query_map = row_map(queries, nq, dim_, kBlockQueries);
  const CUtensorMap database_map = row_map(database, nb, dim_, kBlockDatabase / kClusterSize);
  Problem p = problem(dim_, ld_, nq, nb);
  p.out = reinterpret_cast<__nv_bfloat16*>(filter.pieces);
  p.bars = filter.bars;
  p.stored = filter.stored;
  p.stored_words = filter.stored_words;
  p.marks = filter.marks;
  p.busy_rows = filter.busy_rows;
  p.busy_count = filter.busy_count;
  if (filter.stored_words < stored_words(nb))
    throw InternalError(fmt::format("WgmmaGemm: {} words of piece bits per query, {} rows need {}",
                                    filter.stored_words, nb, stored_words(nb)));
  launch<true>(query_map, database_map, p, clusters_, stream);
}

}  // namespace weave::knn::cuda
