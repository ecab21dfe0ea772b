// How far a tensor-core score can be from the exact dot product, per pair of rows. Shared by the
// GPU kernels and the CPU test that checks it on emulated arithmetic (tests/unit/test_error_bounds).
#pragma once

#ifdef __CUDACC__
#define WEAVE_HOST_DEVICE __host__ __device__
#else
#define WEAVE_HOST_DEVICE
#endif

namespace weave::knn {

/// A bound on |FP32-accumulated dot of the BF16 rows a', b' - exact dot of a, b|, where a = a' + r_a:
/// a.b = a'.b' + a'.r_b + r_a.b' + r_a.r_b, so the rounding of the inputs costs at most
/// |a'||r_b| + |r_a||b'| + |r_a||r_b| (Cauchy-Schwarz), and the FP32 sums of the exact products
/// a'_j b'_j at most 2.1 (d+2) 2^-24 |a'||b'| in any order, with or without truncation. The norms
/// are measured per row (round up), so the bound follows the data instead of the worst case
/// 2^-7 |a||b|; larger norms (say, a chunk's maxima for b) only loosen it. 1e-6 covers the
/// canonical value's own rounding and the float arithmetic here.
WEAVE_HOST_DEVICE inline float tensor_dot_error_bound(float norm_a, float residual_a, float norm_b, float residual_b,
                                                      long long d) {
  const double rounding = static_cast<double>(norm_a) * residual_b + static_cast<double>(residual_a) * norm_b +
                          static_cast<double>(residual_a) * residual_b;
  const double accumulation = 2.1 * static_cast<double>(d + 2) * 0x1.0p-24 * norm_a * norm_b;
  return static_cast<float>(1.01 * (rounding + accumulation) + 1e-6);
}

}  // namespace weave::knn
