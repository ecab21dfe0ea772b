// The sum S of a corpus's unit rows, exactly (fixed point: the same at any rank count). The figures
// of a random order need only this: the similarities of all pairs of distinct documents sum to
// (|S|^2 - sum_i |x_i|^2) / 2. `weave knn` records it in knn.h5 (/row_sum) so that `weave order`
// need not read every row to compute them.
#pragma once

#include <cstdint>
#include <vector>

#include "mpi/comm.hpp"

namespace weave::knn {

class RowSum {
 public:
  explicit RowSum(std::int64_t dim) : units_(static_cast<std::size_t>(dim) + 1, 0) {}

  /// Adds a unit row of `dim` values.
  void add(const float* row);
  /// Collective: the sum over every rank's rows.
  void sum_over(const mpi::Comm& comm);
  /// The sum of x_i . x_j over all pairs i < j of the rows added.
  double pair_similarity_sum() const;

  /// The stored form: S's columns in units of 2^-22, then sum_i |x_i|^2 in util::ExactSum's units.
  const std::vector<std::int64_t>& units() const { return units_; }
  static RowSum from_units(std::vector<std::int64_t> units);

 private:
  RowSum() = default;
  std::vector<std::int64_t> units_;
};

}  // namespace weave::knn
