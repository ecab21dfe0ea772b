// The canonical similarity is a definition, not an approximation: its bits must be the same on the
// CPU (knn/topk.hpp) and on a GPU warp (knn/cuda/select_kernels.cu). This checks the CPU code
// against an independent reference on rows built so that the summation order shows in the float
// result (large terms cancelling), and that those rows do tell a different order apart.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <vector>

#include "knn/canonical_vector.hpp"
#include "knn/topk.hpp"
#include "test_helpers.hpp"
#include "util/random.hpp"

namespace weave {
namespace {

/// docs/algorithms.md: element j goes to float64 partial sum (j div 4) mod 32, in ascending j; the
/// partials are combined by halving (p[l] += p[l + 16] for l < 16, then 8, 4, 2, 1).
float reference(const std::vector<float>& a, const std::vector<float>& b) {
  std::vector<double> p(32, 0.0);
  for (std::size_t g = 0; g * 4 < a.size(); ++g)
    for (std::size_t j = g * 4; j < std::min(a.size(), g * 4 + 4); ++j) p[g % 32] += double(a[j]) * double(b[j]);
  for (int width = 32; width > 1; width /= 2)
    for (int l = 0; l < width / 2; ++l) p[l] += p[l + width / 2];
  return static_cast<float>(p[0]);
}

float sequential(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (std::size_t j = 0; j < a.size(); ++j) s += double(a[j]) * double(b[j]);
  return static_cast<float>(s);
}


TEST(CanonicalSimilarity, MatchesTheDefinitionBitForBit) {
  util::CounterRng rng(3, 1, 4);
  int sequential_differs = 0, cases = 0;
  for (std::size_t d : {1, 3, 4, 5, 100, 127, 128, 129, 255, 256, 257, 300, 768, 1000}) {
    for (int trial = 0; trial < 200; ++trial) {
      std::vector<float> a, b;
      testing::order_sensitive_rows(rng, d, a, b);
      const float want = reference(a, b);
      const float got = knn::canonical_similarity(a.data(), b.data(), static_cast<std::int64_t>(d));
      ASSERT_EQ(std::bit_cast<std::uint32_t>(got), std::bit_cast<std::uint32_t>(want)) << "d=" << d << " trial " << trial;
      // The vector code (AVX-512 where this processor has it) gives the same bits, also from rows
      // that are not 64-byte aligned.
      const float fast = knn::canonical_similarity_fast(a.data(), b.data(), static_cast<std::int64_t>(d));
      ASSERT_EQ(std::bit_cast<std::uint32_t>(fast), std::bit_cast<std::uint32_t>(want)) << "fast, d=" << d << " trial " << trial;
      if (d > 1) {
        const float shifted = knn::canonical_similarity_fast(a.data() + 1, b.data() + 1, static_cast<std::int64_t>(d - 1));
        const std::vector<float> a1(a.begin() + 1, a.end()), b1(b.begin() + 1, b.end());
        ASSERT_EQ(std::bit_cast<std::uint32_t>(shifted), std::bit_cast<std::uint32_t>(reference(a1, b1))) << "fast, offset 1, d=" << d;
      }
      sequential_differs += sequential(a, b) != want ? 1 : 0;
      ++cases;
    }
  }
  // The rows are sharp enough to tell orders apart (else the check above would prove little).
  EXPECT_GT(sequential_differs, cases / 4) << sequential_differs << " of " << cases;
  std::printf("a sequential float64 sum differs from the canonical one in %d of %d cases\n", sequential_differs, cases);
}

}  // namespace
}  // namespace weave
