// The slack bounds of knn/topk.hpp hold on emulated fast arithmetic: float32 dots in two summation
// orders (BLAS) and BF16-rounded rows with float32 accumulation, with and without a BF16-rounded
// score (tensor cores), on random, adversarial same-sign and near-duplicate unit rows.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "corpus/half_precision.hpp"
#include "knn/topk.hpp"
#include "util/random.hpp"

namespace weave {
namespace {

std::vector<float> unit_row(std::vector<double> x) {
  double norm2 = 0;
  for (double v : x) norm2 += v * v;
  std::vector<float> out(x.size());
  const float inv = static_cast<float>(1.0 / std::sqrt(norm2));
  for (std::size_t j = 0; j < x.size(); ++j) out[j] = static_cast<float>(x[j]) * inv;
  return out;
}

float bf16(float x) { return corpus::bfloat16_to_float(corpus::float_to_bfloat16(x)); }

/// Tensor-core emulation: rows rounded to BF16, products summed in float32 in the given order.
float tensor_dot(const std::vector<float>& a, const std::vector<float>& b, bool backwards) {
  const std::size_t d = a.size();
  float s = 0;
  for (std::size_t i = 0; i < d; ++i) {
    const std::size_t j = backwards ? d - 1 - i : i;
    s += bf16(a[j]) * bf16(b[j]);
  }
  return s;
}

float float_dot(const std::vector<float>& a, const std::vector<float>& b) {
  float s = 0;
  for (std::size_t j = 0; j < a.size(); ++j) s += a[j] * b[j];
  return s;
}

TEST(ErrorBounds, HoldOnRandomAdversarialAndNearDuplicateRows) {
  util::CounterRng rng(11, 0, 0);
  double worst_ratio_bf16 = 0, worst_ratio_float = 0;
  for (std::int64_t d : {3, 4, 64, 768, 1024}) {
    const float bound_fp32 = knn::bf16_dot_error_bound(d, false);
    const float bound_bf16 = knn::bf16_dot_error_bound(d, true);
    const float bound_float = knn::float_dot_error_bound(d);
    EXPECT_LT(bound_bf16, 0.02f) << "a bound this loose would re-score too much";
    for (int trial = 0; trial < 300; ++trial) {
      std::vector<double> x(d), y(d);
      for (std::int64_t j = 0; j < d; ++j) {
        x[j] = rng.normal();
        y[j] = rng.normal();
      }
      if (trial % 3 == 1) {  // same signs everywhere: rounding errors cannot cancel
        for (std::int64_t j = 0; j < d; ++j) {
          x[j] = std::abs(x[j]) + 1;
          y[j] = x[j] * (1 + 1e-3 * rng.normal());
        }
      } else if (trial % 3 == 2) {  // near-duplicates: similarity close to 1
        for (std::int64_t j = 0; j < d; ++j) y[j] = x[j] + 1e-4 * rng.normal();
      }
      const auto a = unit_row(x), b = unit_row(y);
      const float canonical = knn::canonical_similarity(a.data(), b.data(), d);
      for (bool backwards : {false, true}) {
        const float fast = tensor_dot(a, b, backwards);
        EXPECT_LE(std::abs(fast - canonical), bound_fp32) << "d=" << d << " trial " << trial;
        EXPECT_LE(std::abs(bf16(fast) - canonical), bound_bf16) << "d=" << d << " trial " << trial;
        worst_ratio_bf16 = std::max(worst_ratio_bf16, std::abs(bf16(fast) - canonical) / double(bound_bf16));
      }
      const float fast32 = float_dot(a, b);
      EXPECT_LE(std::abs(fast32 - canonical), bound_float) << "d=" << d << " trial " << trial;
      worst_ratio_float = std::max(worst_ratio_float, std::abs(fast32 - canonical) / double(bound_float));
    }
  }
  std::printf("worst error / bound: bf16 tensor-core emulation %.3f, float32 %.3f\n", worst_ratio_bf16,
              worst_ratio_float);
}

}  // namespace
}  // namespace weave
