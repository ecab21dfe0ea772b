#include "knn/cuda/score_gemm.hpp"

#include <limits>
#include <utility>

#include <fmt/format.h>

#include "knn/cuda/cublaslt_library.hpp"
#include "knn/cuda/cuda_check.hpp"
#include "knn/cuda/stream.hpp"
#include "weave/error.hpp"

namespace weave::knn::cuda {

namespace {

constexpr std::size_t kWorkspaceBytes = 32u << 20;
constexpr int kCandidates = 8;  // algorithms of the heuristic timed per shape
constexpr int kTimedRuns = 3;

/// The largest power of two (up to 256) that divides the address: cuBLASLt picks kernels by it.
int alignment_of(const void* p) {
  const auto address = reinterpret_cast<std::uintptr_t>(p);
  int alignment = 256;
  while (alignment > 1 && address % alignment != 0) alignment /= 2;
  return alignment;
}

}  // namespace

ScoreGemm::ScoreGemm(std::int64_t dim, std::int64_t ld, Output output, int sm_count)
    : dim_(dim), ld_(ld), output_(output), workspace_(kWorkspaceBytes, "the cuBLASLt workspace") {
  check(cublaslt().create(&handle_), "cublasLtCreate");
  check(cublaslt().desc_create(&desc_, CUBLAS_COMPUTE_32F, CUDA_R_32F), "cublasLtMatmulDescCreate");
  // Column-major: out (m x n) = Aᵀ B with A = the a rows (dim x m), B = the b rows (dim x n).
  set(CUBLASLT_MATMUL_DESC_TRANSA, CUBLAS_OP_T, "TRANSA");
  set(CUBLASLT_MATMUL_DESC_TRANSB, CUBLAS_OP_N, "TRANSB");
  if (sm_count > 0) set(CUBLASLT_MATMUL_DESC_SM_COUNT_TARGET, std::int32_t{sm_count}, "SM_COUNT_TARGET");
}

template <typename T>
void ScoreGemm::set(cublasLtMatmulDescAttributes_t attribute, const T& value, const char* what) {
  check(cublaslt().desc_set_attribute(desc_, attribute, &value, sizeof(value)),
        fmt::format("cublasLtMatmulDescSetAttribute({})", what).c_str());
}

ScoreGemm::~ScoreGemm() {
  for (auto& [shape, p] : plans_) {
    cublaslt().layout_destroy(p.a);
    cublaslt().layout_destroy(p.b);
    cublaslt().layout_destroy(p.d);
  }
  if (desc_) cublaslt().desc_destroy(desc_);
  if (handle_) cublaslt().destroy(handle_);
}

const ScoreGemm::Plan& ScoreGemm::plan(const std::uint16_t* a, std::int64_t m, const std::uint16_t* b,
                                       std::int64_t n, void* out, cudaStream_t stream) {
  const int align_a = alignment_of(a), align_b = alignment_of(b), align_d = alignment_of(out);
  const auto key = std::make_tuple(m, n, align_a, align_b, align_d);
  if (auto it = plans_.find(key); it != plans_.end()) return it->second;
  Plan p;
  const auto d = static_cast<std::uint64_t>(dim_);
  check(cublaslt().layout_create(&p.a, CUDA_R_16BF, d, static_cast<std::uint64_t>(m), dim_),
        "cublasLtMatrixLayoutCreate(A)");
  check(cublaslt().layout_create(&p.b, CUDA_R_16BF, d, static_cast<std::uint64_t>(n), dim_),
        "cublasLtMatrixLayoutCreate(B)");
  check(cublaslt().layout_create(&p.d, output_ == Output::fp32_scores ? CUDA_R_32F : CUDA_R_16BF,
                                   static_cast<std::uint64_t>(m), static_cast<std::uint64_t>(n), ld_),
        "cublasLtMatrixLayoutCreate(D)");
  cublasLtMatmulPreference_t preference = nullptr;
  check(cublaslt().preference_create(&preference), "cublasLtMatmulPreferenceCreate");
  const std::uint64_t workspace = workspace_.bytes();
  check(cublaslt().preference_set_attribute(preference, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &workspace,
                                             sizeof(workspace)),
        "cublasLtMatmulPreferenceSetAttribute(workspace)");
  const std::pair<cublasLtMatmulPreferenceAttributes_t, int> alignments[] = {
      {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, align_a},
      {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, align_b},
      {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, align_d},
      {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, align_d}};
  for (const auto& [attribute, bytes] : alignments) {
    const auto value = static_cast<std::uint32_t>(bytes);
    check(cublaslt().preference_set_attribute(preference, attribute, &value, sizeof(value)),
          "cublasLtMatmulPreferenceSetAttribute(alignment)");
  }
  cublasLtMatmulHeuristicResult_t results[kCandidates]{};
  int found = 0;
  const cublasStatus_t status =
      cublaslt().algo_get_heuristic(handle_, desc_, p.a, p.b, p.d, p.d, preference, kCandidates, results, &found);
  cublaslt().preference_destroy(preference);
  if (status != CUBLAS_STATUS_SUCCESS || found == 0)
    throw InternalError(fmt::format("cuBLASLt has no BF16 GEMM for a {} x {} x {} score tile ({})", m, n, dim_,
                                    cublaslt().status_string(status)));
  p.algo = results[0].algo;
  if (found > 1) p.algo = fastest(results, found, p, a, b, out, stream);
  return plans_.emplace(key, p).first->second;
}

cublasLtMatmulAlgo_t ScoreGemm::fastest(const cublasLtMatmulHeuristicResult_t* candidates, int count, const Plan& p,
                                        const std::uint16_t* a, const std::uint16_t* b, void* out,
                                        cudaStream_t stream) {
  // The heuristic's first choice is not always the fastest (on an H100, 8192 x 4096 x 768 tiles:
  // 629 TFLOP/s, the best of its candidates 663). Each candidate runs once to warm up, then is
  // timed on the tile itself (the next launch overwrites what these wrote).
  Event start(/*timing=*/true), stop(/*timing=*/true);
  cublasLtMatmulAlgo_t best = candidates[0].algo;
  float best_ms = std::numeric_limits<float>::infinity();
  const float one = 1.0f, zero = 0.0f;
  for (int c = 0; c < count; ++c) {
    const auto launch = [&] {
      return cublaslt().matmul(handle_, desc_, &one, a, p.a, b, p.b, &zero, out, p.d, out, p.d, &candidates[c].algo,
                            workspace_.data(), workspace_.bytes(), stream);
    };
    if (launch() != CUBLAS_STATUS_SUCCESS) continue;  // a candidate that cannot run is not chosen
    start.record(stream);
    for (int r = 0; r < kTimedRuns; ++r) check(launch(), "cublasLtMatmul");
    stop.record(stream);
    stop.synchronize();
    const float ms = stop.elapsed_ms(start);
    if (ms < best_ms) best_ms = ms, best = candidates[c].algo;
  }
  return best;
}

void ScoreGemm::run(const std::uint16_t* a, std::int64_t m, const std::uint16_t* b, std::int64_t n, void* out,
                    cudaStream_t stream) {
  const Plan& p = plan(a, m, b, n, out, stream);
  const float one = 1.0f, zero = 0.0f;
  check(cublaslt().matmul(handle_, desc_, &one, a, p.a, b, p.b, &zero, out, p.d, out, p.d, &p.algo, workspace_.data(),
                       workspace_.bytes(), stream),
        "cublasLtMatmul");
}

}  // namespace weave::knn::cuda
