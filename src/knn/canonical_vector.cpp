#include "knn/canonical_vector.hpp"

// GCC 12's AVX-512 intrinsics fill their unused result lanes with _mm512_undefined_*(), which its
// own -Wmaybe-uninitialized then reports inside the headers (GCC bug 105593): not this code's.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include "knn/topk.hpp"

namespace weave::knn {

namespace {

static_assert(kCanonicalPartials == 32, "the AVX-512 code holds the partials in four registers of eight");

/// The upper eight floats of sixteen.
[[gnu::target("avx512f")]] inline __m256 upper_half(__m512 v) {
  return _mm512_castps512_ps256(_mm512_shuffle_f32x4(v, v, 0xee));
}

/// Elements 4l + e of 32 consecutive floats (l = 0..7), for e = 0, 1 (low, high half) and e = 2, 3.
[[gnu::target("avx512f")]] inline void gather_by_partial(const float* x, __m512d out[4]) {
  const __m512i first = _mm512_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28, 1, 5, 9, 13, 17, 21, 25, 29);
  const __m512i second = _mm512_setr_epi32(2, 6, 10, 14, 18, 22, 26, 30, 3, 7, 11, 15, 19, 23, 27, 31);
  const __m512 lo = _mm512_loadu_ps(x), hi = _mm512_loadu_ps(x + 16);
  const __m512 e01 = _mm512_permutex2var_ps(lo, first, hi), e23 = _mm512_permutex2var_ps(lo, second, hi);
  out[0] = _mm512_cvtps_pd(_mm512_castps512_ps256(e01));
  out[1] = _mm512_cvtps_pd(upper_half(e01));
  out[2] = _mm512_cvtps_pd(_mm512_castps512_ps256(e23));
  out[3] = _mm512_cvtps_pd(upper_half(e23));
}

[[gnu::target("avx512f")]] float canonical_avx512(const float* a, const float* b, std::int64_t d) {
  constexpr std::int64_t kBlock = 4 * kCanonicalPartials;
  // Register g holds partials 8g .. 8g + 7, which take the block's elements 32g .. 32g + 31.
  __m512d sum[4] = {_mm512_setzero_pd(), _mm512_setzero_pd(), _mm512_setzero_pd(), _mm512_setzero_pd()};
  std::int64_t j = 0;
  for (; j + kBlock <= d; j += kBlock)
    for (int g = 0; g < 4; ++g) {
      __m512d x[4], y[4];
      gather_by_partial(a + j + 32 * g, x);
      gather_by_partial(b + j + 32 * g, y);
      for (int e = 0; e < 4; ++e) sum[g] = _mm512_add_pd(sum[g], _mm512_mul_pd(x[e], y[e]));
    }
  double partial[kCanonicalPartials];
  for (int g = 0; g < 4; ++g) _mm512_storeu_pd(partial + 8 * g, sum[g]);
  // The rest as the portable code does it: the same partial for each element.
  for (; j < d; ++j) partial[(j / 4) % kCanonicalPartials] += static_cast<double>(a[j]) * static_cast<double>(b[j]);
  for (int half = kCanonicalPartials / 2; half >= 1; half /= 2)
    for (int l = 0; l < half; ++l) partial[l] += partial[l + half];
  return static_cast<float>(partial[0]);
}

[[gnu::target_clones("avx2", "default")]] float canonical_portable(const float* a, const float* b, std::int64_t d) {
  return canonical_similarity(a, b, d);
}

using Kernel = float (*)(const float*, const float*, std::int64_t);

Kernel pick_kernel() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") ? canonical_avx512 : canonical_portable;
}

}  // namespace

float canonical_similarity_fast(const float* a, const float* b, std::int64_t d) {
  static const Kernel kernel = pick_kernel();
  return kernel(a, b, d);
}

}  // namespace weave::knn

#pragma GCC diagnostic pop
