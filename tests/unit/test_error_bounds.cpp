// The slack bounds hold on emulated fast arithmetic: float32 dots (BLAS, knn/topk.hpp) and BF16
// rows with float32 accumulation in two orders, the score kept in float32 or rounded to BF16 the
// way the selection's bar is (knn/tensor_error_bound.hpp, select_kernels.cu), on random,
// adversarial same-sign and near-duplicate unit rows.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <vector>

#include "corpus/half_precision.hpp"
#include "knn/tensor_error_bound.hpp"
#include "knn/topk.hpp"
#include "util/random.hpp"

namespace weave {
namespace {

std::vector<float> unit_row(const std::vector<double>& x) {
  double norm2 = 0;
  for (double v : x) norm2 += v * v;
  std::vector<float> out(x.size());
  const float inv = static_cast<float>(1.0 / std::sqrt(norm2));
  for (std::size_t j = 0; j < x.size(); ++j) out[j] = static_cast<float>(x[j]) * inv;
  return out;
}

float bf16(float x) { return corpus::bfloat16_to_float(corpus::float_to_bfloat16(x)); }

/// BF16 value of x rounded towards -inf (what the selection compares BF16 scores with): truncate,
/// and for a negative value with bits cut off, step one BF16 ulp away from zero.
float bf16_down(float x) {
  const auto bits = std::bit_cast<std::uint32_t>(x);
  std::uint32_t kept = bits & 0xFFFF0000u;
  if ((bits & 0xFFFFu) != 0 && (bits >> 31) != 0) kept += 0x10000u;
  return std::bit_cast<float>(kept);
}

/// |bf16 row| and |row - bf16 row|, as the GPU measures them (rounded up a little).
std::pair<float, float> norms(const std::vector<float>& a) {
  double kept = 0, lost = 0;
  for (float x : a) {
    const double h = bf16(x);
    kept += h * h;
    lost += (x - h) * (x - h);
  }
  return {static_cast<float>(std::sqrt(kept) * (1 + 1e-7)), static_cast<float>(std::sqrt(lost) * (1 + 1e-7))};
}

/// Tensor-core emulation: rows rounded to BF16, exact products summed in float32 in the given order.
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
  double worst_tensor = 0, worst_float = 0, mean_slack = 0;
  int pairs = 0;
  for (std::int64_t d : {3, 4, 64, 768, 1024}) {
    const float bound_float = knn::float_dot_error_bound(d);
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
      const auto [na, ra] = norms(a);
      const auto [nb, rb] = norms(b);
      const float slack = knn::tensor_dot_error_bound(na, ra, nb, rb, d);
      EXPECT_LT(slack, 0.0081f) << "never looser than the worst case 2^-7 |a||b| + accumulation";
      mean_slack += slack;
      ++pairs;
      const float canonical = knn::canonical_similarity(a.data(), b.data(), d);
      for (bool backwards : {false, true}) {
        const float fast = tensor_dot(a, b, backwards);
        EXPECT_LE(std::abs(fast - canonical), slack) << "d=" << d << " trial " << trial;
        worst_tensor = std::max(worst_tensor, std::abs(fast - canonical) / double(slack));
        // The BF16 test of the selection: canonical >= kth implies bf16(fast) >= bf16_down(kth - slack).
        for (float kth : {canonical, std::nextafter(canonical, -INFINITY)})
          EXPECT_GE(bf16(fast), bf16_down(kth - slack)) << "d=" << d << " trial " << trial;
      }
      const float fast32 = float_dot(a, b);
      EXPECT_LE(std::abs(fast32 - canonical), bound_float) << "d=" << d << " trial " << trial;
      worst_float = std::max(worst_float, std::abs(fast32 - canonical) / double(bound_float));
    }
  }
  std::printf("worst error / bound: tensor-core emulation %.3f, float32 %.3f; mean tensor slack %.5f\n",
              worst_tensor, worst_float, mean_slack / pairs);
}

}  // namespace
}  // namespace weave
