#include <gtest/gtest.h>

#include <cmath>

#include "corpus/half_precision.hpp"
#include "util/random.hpp"

namespace weave {
namespace {

TEST(CounterRng, SameKeySameStreamDifferentKeyDifferentStream) {
  util::CounterRng a(7, 1, 42), b(7, 1, 42), c(7, 1, 43), d(8, 1, 42);
  const auto a0 = a.next();
  EXPECT_EQ(a0, b.next());
  EXPECT_NE(a0, c.next());
  EXPECT_NE(a0, d.next());
}

TEST(CounterRng, UniformAndNormalHaveTheRightMoments) {
  util::CounterRng rng(3, 9, 0);
  const int n = 200000;
  double su = 0, sn = 0, sn2 = 0;
  for (int i = 0; i < n; ++i) {
    const double u = rng.uniform();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    su += u;
    const double z = rng.normal();
    sn += z;
    sn2 += z * z;
  }
  EXPECT_NEAR(su / n, 0.5, 0.01);
  EXPECT_NEAR(sn / n, 0.0, 0.01);
  EXPECT_NEAR(sn2 / n, 1.0, 0.02);
}

TEST(BFloat16, RoundTripsAndRoundsToNearestEven) {
  for (float f : {0.0f, 1.0f, -2.5f, 3.140625f, 0x1.0p-100f, -0x1.8p+100f}) {
    EXPECT_EQ(corpus::bfloat16_to_float(corpus::float_to_bfloat16(f)), f) << f;  // exactly representable
  }
  // 1 + 2^-8 lies halfway between 1 and 1 + 2^-7: ties go to the even mantissa (1.0).
  EXPECT_EQ(corpus::bfloat16_to_float(corpus::float_to_bfloat16(1.0f + 0x1.0p-8f)), 1.0f);
  EXPECT_EQ(corpus::bfloat16_to_float(corpus::float_to_bfloat16(1.0f + 0x1.8p-8f)), 1.0f + 0x1.0p-7f);
  EXPECT_TRUE(std::isnan(corpus::bfloat16_to_float(corpus::float_to_bfloat16(std::nanf("")))));
}

}  // namespace
}  // namespace weave

namespace weave {
namespace {

TEST(Float16, EveryHalfRoundTripsThroughFloat) {
  for (std::uint32_t h = 0; h < 65536; ++h) {
    const float f = corpus::half_to_float(static_cast<std::uint16_t>(h));
    if (std::isnan(f)) continue;
    ASSERT_EQ(corpus::float_to_half(f), h) << "half bits " << h;
  }
}

TEST(Float16, RoundsToNearestEvenIncludingCarriesAndSubnormals) {
  using corpus::float_to_half;
  using corpus::half_to_float;
  EXPECT_EQ(half_to_float(float_to_half(0.24999f)), 0.25f);  // carry into the exponent
  EXPECT_EQ(half_to_float(float_to_half(65519.0f)), 65504.0f);
  EXPECT_TRUE(std::isinf(half_to_float(float_to_half(65520.0f))));
  EXPECT_EQ(half_to_float(float_to_half(0x1.0p-25f)), 0.0f);              // tie -> even (0)
  EXPECT_EQ(half_to_float(float_to_half(0x1.8p-25f)), 0x1.0p-24f);        // above the tie
  EXPECT_EQ(half_to_float(float_to_half(1.0f + 0x1.0p-11f)), 1.0f);       // tie -> even
  EXPECT_EQ(half_to_float(float_to_half(1.0f + 0x1.8p-11f)), 1.0f + 0x1.0p-10f);
  EXPECT_EQ(half_to_float(float_to_half(-3.5f)), -3.5f);
  // Against double-precision rounding on a sweep of values.
  util::CounterRng rng(1, 2, 3);
  for (int i = 0; i < 100000; ++i) {
    const float f = static_cast<float>(std::ldexp(rng.uniform() * 2 - 1, static_cast<int>(rng.below(40)) - 28));
    const float back = half_to_float(float_to_half(f));
    // |error| is at most half a unit in the last place of the half result.
    const double ulp = std::ldexp(1.0, std::max(std::ilogb(std::abs(back == 0 ? f : back)), -14) - 10);
    ASSERT_LE(std::abs(static_cast<double>(back) - f), ulp / 2 * (1 + 1e-9)) << f;
  }
}

}  // namespace
}  // namespace weave
