// cuBLASLt, opened at run time on its first use instead of linked. Linked, its library holds ~200 MiB
// resident in every process from start-up (its load-time registration touches its device code:
// `weave --version` 232 MB against 25 MB without it) — in every CPU stage and every rank of a CUDA
// build, though only the GPU score GEMM (score_gemm.cpp) calls it.
#pragma once

#include <cublasLt.h>

namespace weave::knn::cuda {

/// The cuBLASLt functions Weave calls, resolved from the library (the header's own signatures).
struct CublasLtLibrary {
  decltype(&cublasLtCreate) create = nullptr;
  decltype(&cublasLtDestroy) destroy = nullptr;
  decltype(&cublasLtGetStatusName) status_name = nullptr;
  decltype(&cublasLtGetStatusString) status_string = nullptr;
  decltype(&cublasLtMatmul) matmul = nullptr;
  decltype(&cublasLtMatmulAlgoGetHeuristic) algo_get_heuristic = nullptr;
  decltype(&cublasLtMatmulDescCreate) desc_create = nullptr;
  decltype(&cublasLtMatmulDescDestroy) desc_destroy = nullptr;
  decltype(&cublasLtMatmulDescSetAttribute) desc_set_attribute = nullptr;
  decltype(&cublasLtMatmulPreferenceCreate) preference_create = nullptr;
  decltype(&cublasLtMatmulPreferenceDestroy) preference_destroy = nullptr;
  decltype(&cublasLtMatmulPreferenceSetAttribute) preference_set_attribute = nullptr;
  decltype(&cublasLtMatrixLayoutCreate) layout_create = nullptr;
  decltype(&cublasLtMatrixLayoutDestroy) layout_destroy = nullptr;
};

/// The library, opened on the first call (the file CMake found at build time, else by its
/// soname on the library path); a library that cannot be opened is a UserError naming it.
const CublasLtLibrary& cublaslt();

}  // namespace weave::knn::cuda
