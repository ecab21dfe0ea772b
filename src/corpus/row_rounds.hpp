// Rows of arbitrary documents, fetched from their owners in bounded rounds. Every rank takes part
// in as many rounds as the rank with the most documents, so the calls stay collective; the rows
// are never all held at once, and the buffers of one round are reused by the allocator for the
// next (fresh memory for all of them cost more in the kernel's page clearing than the transfer).
#pragma once

#include <algorithm>
#include <cstdint>
#include <type_traits>
#include <utility>
#include <vector>

#include "mpi/ask_owners.hpp"
#include "weave/ids.hpp"

namespace weave::corpus {

/// Rows of d 4-byte values (floats, or a sketch's words) in about `bytes` (at least 256 rows).
inline std::int64_t rows_per_round(std::int64_t d, std::int64_t bytes = std::int64_t{8} << 20) {
  return std::max<std::int64_t>(256, bytes / (static_cast<std::int64_t>(sizeof(float)) * d));
}

/// Asks for the first cache lines of a row (or a sketch: any record of `width` values) that will be
/// read soon: rows scattered over a block would each wait on every miss in turn. A row's later lines
/// come by the hardware's own prefetcher as the first ones are read: asking for all 48 lines of a
/// 768-dimensional row filled the core's outstanding misses with the rows still to come (random
/// pairs of rows, two processes: 600 -> 530 ns a pair with 8 lines).
template <typename T>
void prefetch_row(const T* row, std::int64_t width) {
  constexpr std::int64_t kLines = 8;
  const auto* bytes = reinterpret_cast<const char*>(row);
  const std::int64_t end = std::min(width * static_cast<std::int64_t>(sizeof(T)), 64 * kLines);
  for (std::int64_t at = 0; at < end; at += 64) __builtin_prefetch(bytes + at);
}

/// Collective. visit(first, count, rows) gets the rows of docs[first, first + count), in rounds of
/// at most round_rows documents; an owner answers with row_of(doc) (a const T* to d values: float
/// rows, or any other fixed-width record such as a row's sketch). The rounds take `docs` in their
/// order: many docs in ascending order would ask one owner at a time, so callers spread them over
/// their owners first (mpi::spread_over_owners). `owner(doc)` is the rank that holds a document's
/// row (any numbering of the rows: stitching's dense numbers of path ends too).
template <typename Owner, typename RowOf, typename Visit>
void visit_rows_by(const mpi::Comm& comm, Owner&& owner, std::int64_t d, const std::vector<std::int64_t>& docs,
                   std::int64_t round_rows, RowOf&& row_of, Visit&& visit) {
  using T = std::remove_cv_t<std::remove_pointer_t<decltype(row_of(std::int64_t{}))>>;
  const auto batch = static_cast<std::size_t>(std::max<std::int64_t>(1, round_rows));
  const auto rounds = comm.max(static_cast<std::int64_t>((docs.size() + batch - 1) / batch));
  for (std::int64_t t = 0; t < rounds; ++t) {
    const std::size_t first = std::min(docs.size(), static_cast<std::size_t>(t) * batch);
    const std::size_t last = std::min(docs.size(), first + batch);
    const std::vector<std::int64_t> part(docs.begin() + static_cast<std::ptrdiff_t>(first),
                                         docs.begin() + static_cast<std::ptrdiff_t>(last));
    // An owner's rows are scattered over its block: each row is asked for a few rows before it is
    // copied. At 10^6 x 768 on 2 ranks the owners' copies of the 47,000 rows a rank that
    // stitching's first level settles with: 0.020 -> 0.0175 s in calm runs (0.04-0.06 s either way
    // in slow ones).
    const auto rows = mpi::ask_owners<T>(
        comm, part, static_cast<std::size_t>(d), owner, [&](std::int64_t doc, T* row) { std::copy_n(row_of(doc), d, row); },
        [&](std::int64_t doc) { prefetch_row(row_of(doc), d); });
    if (last > first) visit(first, last - first, rows.data());
  }
}

/// visit_rows_by() for documents, each owned by its block's rank.
template <typename RowOf, typename Visit>
void visit_rows(const mpi::Comm& comm, std::int64_t num_docs, std::int64_t d, const std::vector<std::int64_t>& docs,
                std::int64_t round_rows, RowOf&& row_of, Visit&& visit) {
  const BlockOwners owners(num_docs, comm.size());
  visit_rows_by(comm, [&](std::int64_t doc) { return owners(GlobalId(doc)); }, d, docs, round_rows,
                std::forward<RowOf>(row_of), std::forward<Visit>(visit));
}

}  // namespace weave::corpus
