#include <gtest/gtest.h>

#include <cmath>

#include "corpus/bfloat16.hpp"
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
  for (float f : {0.0f, 1.0f, -2.5f, 3.140625f, 1e-30f, -1e30f}) {
    EXPECT_EQ(corpus::bfloat16_to_float(corpus::float_to_bfloat16(f)), f) << f;  // exactly representable
  }
  // 1 + 2^-8 lies halfway between 1 and 1 + 2^-7: ties go to the even mantissa (1.0).
  EXPECT_EQ(corpus::bfloat16_to_float(corpus::float_to_bfloat16(1.0f + 0x1.0p-8f)), 1.0f);
  EXPECT_EQ(corpus::bfloat16_to_float(corpus::float_to_bfloat16(1.0f + 0x1.8p-8f)), 1.0f + 0x1.0p-7f);
  EXPECT_TRUE(std::isnan(corpus::bfloat16_to_float(corpus::float_to_bfloat16(std::nanf("")))));
}

}  // namespace
}  // namespace weave
