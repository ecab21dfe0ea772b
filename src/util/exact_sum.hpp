// Sums of similarities that do not depend on the rank count: each value is rounded to a multiple
// of 2^-30 and summed as an integer, so the per-rank partial sums add up to the same total however
// the documents are split (a float sum's bits change with its order). Values must lie in about
// [-2, 2]; up to 2^32 of them fit the 64-bit total. The rounding (<= 2^-31 a value) is far below
// what the figures print.
#pragma once

#include <cmath>
#include <cstdint>

namespace weave::util {

class ExactSum {
 public:
  static constexpr double kScale = static_cast<double>(std::int64_t{1} << 30);
  static constexpr double kUnit = 1.0 / kScale;

  /// Rounded half away from zero by a truncating conversion.
  void add(double value) {
    const double scaled = value * kScale;
    units_ += static_cast<std::int64_t>(scaled + std::copysign(0.5, scaled));  // no branch on the sign
  }
  /// The raw total, for a collective integer sum over ranks.
  std::int64_t units() const { return units_; }
  static double value_of(std::int64_t units) { return static_cast<double>(units) * kUnit; }
  double value() const { return value_of(units_); }

 private:
  std::int64_t units_ = 0;
};

}  // namespace weave::util
