#include "knn/cuda/cublaslt_library.hpp"

#include <dlfcn.h>

#include <string>
#include <type_traits>

#include <fmt/format.h>

#include "weave/error.hpp"

namespace weave::knn::cuda {

namespace {

CublasLtLibrary open_cublaslt() {
  // The file found when Weave was built first, then the soname of the cuBLAS major version it was
  // built against (the library path: LD_LIBRARY_PATH, the executable's run path, ld.so.cache).
  const std::string soname = fmt::format("libcublasLt.so.{}", CUBLAS_VER_MAJOR);
  std::string tried;
  void* handle = nullptr;
  for (const std::string& name : {std::string(WEAVE_CUBLASLT_FILE), soname}) {
    if (name.empty()) continue;
    handle = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle) break;
    tried += fmt::format("{}{}", tried.empty() ? "" : "; ", dlerror());
  }
  if (!handle) throw UserError(fmt::format("cannot open cuBLASLt (the GPU score GEMM needs it): {}", tried));
  CublasLtLibrary l;
  auto resolve = [&](auto& function, const char* symbol) {
    function = reinterpret_cast<std::remove_reference_t<decltype(function)>>(dlsym(handle, symbol));
    if (!function) throw UserError(fmt::format("cuBLASLt ({}) has no {}", soname, symbol));
  };
  resolve(l.create, "cublasLtCreate");
  resolve(l.destroy, "cublasLtDestroy");
  resolve(l.status_name, "cublasLtGetStatusName");
  resolve(l.status_string, "cublasLtGetStatusString");
  resolve(l.matmul, "cublasLtMatmul");
  resolve(l.algo_get_heuristic, "cublasLtMatmulAlgoGetHeuristic");
  resolve(l.desc_create, "cublasLtMatmulDescCreate");
  resolve(l.desc_destroy, "cublasLtMatmulDescDestroy");
  resolve(l.desc_set_attribute, "cublasLtMatmulDescSetAttribute");
  resolve(l.preference_create, "cublasLtMatmulPreferenceCreate");
  resolve(l.preference_destroy, "cublasLtMatmulPreferenceDestroy");
  resolve(l.preference_set_attribute, "cublasLtMatmulPreferenceSetAttribute");
  resolve(l.layout_create, "cublasLtMatrixLayoutCreate");
  resolve(l.layout_destroy, "cublasLtMatrixLayoutDestroy");
  return l;  // the handle stays open for the process's life
}

}  // namespace

const CublasLtLibrary& cublaslt() {
  static const CublasLtLibrary library = open_cublaslt();  // thread-safe initialisation
  return library;
}

}  // namespace weave::knn::cuda
