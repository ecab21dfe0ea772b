#include "knn/cuda/score_gemm.hpp"

#include <utility>

#include <fmt/format.h>

#include "knn/cuda/cuda_check.hpp"
#include "weave/error.hpp"

namespace weave::knn::cuda {

namespace {

constexpr std::size_t kWorkspaceBytes = 32u << 20;

/// The largest power of two (up to 256) that divides the address: cuBLASLt picks kernels by it.
int alignment_of(const void* p) {
  const auto address = reinterpret_cast<std::uintptr_t>(p);
  int alignment = 256;
  while (alignment > 1 && address % alignment != 0) alignment /= 2;
  return alignment;
}

}  // namespace

ScoreGemm::ScoreGemm(std::int64_t dim, std::int64_t ld, bool bf16_scores, int sm_count)
    : dim_(dim), ld_(ld), bf16_scores_(bf16_scores), workspace_(kWorkspaceBytes, "the cuBLASLt workspace") {
  check(cublasLtCreate(&handle_), "cublasLtCreate");
  check(cublasLtMatmulDescCreate(&desc_, CUBLAS_COMPUTE_32F, CUDA_R_32F), "cublasLtMatmulDescCreate");
  // Column-major: D (nb x nq) = Aᵀ B with A = database rows (dim x nb), B = query rows (dim x nq).
  const cublasOperation_t transpose = CUBLAS_OP_T, none = CUBLAS_OP_N;
  check(cublasLtMatmulDescSetAttribute(desc_, CUBLASLT_MATMUL_DESC_TRANSA, &transpose, sizeof(transpose)),
        "cublasLtMatmulDescSetAttribute(TRANSA)");
  check(cublasLtMatmulDescSetAttribute(desc_, CUBLASLT_MATMUL_DESC_TRANSB, &none, sizeof(none)),
        "cublasLtMatmulDescSetAttribute(TRANSB)");
  if (sm_count > 0) {
    const std::int32_t target = sm_count;
    check(cublasLtMatmulDescSetAttribute(desc_, CUBLASLT_MATMUL_DESC_SM_COUNT_TARGET, &target, sizeof(target)),
          "cublasLtMatmulDescSetAttribute(SM_COUNT_TARGET)");
  }
}

ScoreGemm::~ScoreGemm() {
  for (auto& [shape, p] : plans_) {
    cublasLtMatrixLayoutDestroy(p.a);
    cublasLtMatrixLayoutDestroy(p.b);
    cublasLtMatrixLayoutDestroy(p.d);
  }
  if (desc_) cublasLtMatmulDescDestroy(desc_);
  if (handle_) cublasLtDestroy(handle_);
}

const ScoreGemm::Plan& ScoreGemm::plan(std::int64_t nb, std::int64_t nq, int align_a, int align_b, int align_d) {
  const auto key = std::make_tuple(nb, nq, align_a, align_b, align_d);
  if (auto it = plans_.find(key); it != plans_.end()) return it->second;
  Plan p;
  const auto d = static_cast<std::uint64_t>(dim_);
  check(cublasLtMatrixLayoutCreate(&p.a, CUDA_R_16BF, d, static_cast<std::uint64_t>(nb), dim_),
        "cublasLtMatrixLayoutCreate(A)");
  check(cublasLtMatrixLayoutCreate(&p.b, CUDA_R_16BF, d, static_cast<std::uint64_t>(nq), dim_),
        "cublasLtMatrixLayoutCreate(B)");
  check(cublasLtMatrixLayoutCreate(&p.d, bf16_scores_ ? CUDA_R_16BF : CUDA_R_32F, static_cast<std::uint64_t>(nb),
                                   static_cast<std::uint64_t>(nq), ld_),
        "cublasLtMatrixLayoutCreate(D)");
  cublasLtMatmulPreference_t preference = nullptr;
  check(cublasLtMatmulPreferenceCreate(&preference), "cublasLtMatmulPreferenceCreate");
  const std::uint64_t workspace = workspace_.bytes();
  check(cublasLtMatmulPreferenceSetAttribute(preference, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &workspace,
                                             sizeof(workspace)),
        "cublasLtMatmulPreferenceSetAttribute(workspace)");
  const std::pair<cublasLtMatmulPreferenceAttributes_t, int> alignments[] = {
      {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, align_a},
      {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, align_b},
      {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, align_d},
      {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, align_d}};
  for (const auto& [attribute, bytes] : alignments) {
    const auto value = static_cast<std::uint32_t>(bytes);
    check(cublasLtMatmulPreferenceSetAttribute(preference, attribute, &value, sizeof(value)),
          "cublasLtMatmulPreferenceSetAttribute(alignment)");
  }
  cublasLtMatmulHeuristicResult_t result{};
  int found = 0;
  const cublasStatus_t status =
      cublasLtMatmulAlgoGetHeuristic(handle_, desc_, p.a, p.b, p.d, p.d, preference, 1, &result, &found);
  cublasLtMatmulPreferenceDestroy(preference);
  if (status != CUBLAS_STATUS_SUCCESS || found == 0)
    throw InternalError(fmt::format("cuBLASLt has no BF16 GEMM for a {} x {} x {} score tile ({})", nb, nq, dim_,
                                    cublasLtGetStatusString(status)));
  p.algo = result.algo;
  return plans_.emplace(key, p).first->second;
}

void ScoreGemm::run(const std::uint16_t* database, std::int64_t nb, const std::uint16_t* queries, std::int64_t nq,
                    void* scores, cudaStream_t stream) {
  const Plan& p = plan(nb, nq, alignment_of(database), alignment_of(queries), alignment_of(scores));
  const float one = 1.0f, zero = 0.0f;
  check(cublasLtMatmul(handle_, desc_, &one, database, p.a, queries, p.b, &zero, scores, p.d, scores, p.d, &p.algo,
                       workspace_.data(), workspace_.bytes(), stream),
        "cublasLtMatmul");
}

}  // namespace weave::knn::cuda
