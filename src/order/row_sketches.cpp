#include "order/row_sketches.hpp"

#include <algorithm>
#include <bit>

#include "order/sketch_code_dot.hpp"
#include "weave/error.hpp"

namespace weave::order {

namespace {

float scale_of(const std::uint32_t* record, std::int64_t d) {
  return std::bit_cast<float>(record[RowSketches::words_for(d) - 1]);
}

/// A record's bytes, two codes each (unsigned chars may view any object's bytes).
const std::uint8_t* codes_of(const std::uint32_t* record) { return reinterpret_cast<const std::uint8_t*>(record); }

/// A value's code: v = x * 7 / max|x| rounded half away from zero (by truncation), within [-7, 7],
/// as 4-bit two's complement.
inline std::uint8_t code_of(float v) {
  const auto code = static_cast<std::int32_t>(v + (v >= 0 ? 0.5f : -0.5f));
  return static_cast<std::uint8_t>(std::clamp(code, -7, 7) & 0xf);
}

/// Writes the sketch of a row of finite values. Vector code throughout (a pass over every end's
/// row: scalar rounding calls cost more than the level it serves): the largest magnitude by the
/// bits of |x| (their unsigned order is the floats' order), rounding half away from zero by
/// truncation; the same bits on every vector unit.
[[gnu::target_clones("arch=x86-64-v4", "avx2", "default")]] void sketch_row(const float* row, std::int64_t d,
                                                                            std::uint32_t* record) {
  auto* out = reinterpret_cast<std::uint8_t*>(record);
  std::uint32_t largest_bits = 0;
  for (std::int64_t j = 0; j < d; ++j) largest_bits = std::max(largest_bits, std::bit_cast<std::uint32_t>(row[j]) & 0x7fffffffu);
  const float largest = std::bit_cast<float>(largest_bits);
  const float scale = largest / RowSketches::kLevels;
  const float inverse = largest > 0 ? RowSketches::kLevels / largest : 0.0f;
  // Codes 2j (low) and 2j + 1 (high) in byte j; v is within [-7, 7] up to a rounding of the last bit.
  const std::int64_t pairs = d / 2;
  for (std::int64_t j = 0; j < pairs; ++j)
    out[j] = static_cast<std::uint8_t>(code_of(row[2 * j] * inverse) | code_of(row[2 * j + 1] * inverse) << 4);
  std::int64_t next = pairs;
  if (d % 2 != 0) out[next++] = code_of(row[d - 1] * inverse);  // the last code alone, the high one 0
  for (; next < 4 * (RowSketches::words_for(d) - 1); ++next) out[next] = 0;
  record[RowSketches::words_for(d) - 1] = std::bit_cast<std::uint32_t>(scale);
}

}  // namespace

RowSketches::RowSketches(std::int64_t dim, std::size_t rows) : dim_(dim), rows_made_for_(rows) {}

RowSketches::RowSketches(const corpus::SomeRows& rows) : RowSketches(rows.dim(), rows.docs().size()) {
  for (std::size_t x = 0; x < rows.docs().size(); ++x) add(x, 1, rows.row(rows.docs()[x]));
  bind(rows);
}

void RowSketches::allocate() {
  if (records_.empty()) records_.resize(rows_made_for_ * static_cast<std::size_t>(record_words()));
}

void RowSketches::add(std::size_t first, std::size_t count, const float* rows) {
  const std::int64_t width = record_words();
  allocate();
  WEAVE_ASSERT((first + count) * static_cast<std::size_t>(width) <= records_.size(), "sketches: more rows than made room for");
  for (std::size_t x = 0; x < count; ++x)
    sketch_row(rows + x * static_cast<std::size_t>(dim_), dim_, records_.data() + static_cast<std::int64_t>(first + x) * width);
}

void RowSketches::bind(const corpus::SomeRows& rows) {
  allocate();
  WEAVE_ASSERT(rows.dim() == dim_ && rows.docs().size() * static_cast<std::size_t>(record_words()) == records_.size(),
               "sketches: bound to other rows than they were made of");
  rows_ = &rows;
}

float sketch_similarity(const std::uint32_t* a, const std::uint32_t* b, std::int64_t d) {
  // The product of the scales is commutative, so (a, b) and (b, a) give the same bits.
  const double scales = static_cast<double>(scale_of(a, d)) * static_cast<double>(scale_of(b, d));
  return static_cast<float>(static_cast<double>(sketch_code_dot(codes_of(a), codes_of(b), (d + 1) / 2)) * scales);
}

}  // namespace weave::order
