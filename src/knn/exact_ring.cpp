#include "knn/exact_ring.hpp"

#include <algorithm>
#include <chrono>

#include "knn/identical_rows.hpp"
#include "mpi/collective_error.hpp"
#include "util/progress.hpp"
#include "util/report.hpp"

namespace weave::knn {

namespace {

/// Rows [begin, end) of chunk j of block b.
BlockRange chunk_of(const BlockRange& b, std::int64_t chunk_rows, std::int64_t j) {
  const std::int64_t begin = std::min(b.end, b.begin + j * chunk_rows);
  return {begin, std::min(b.end, begin + chunk_rows)};
}

/// The ring over the block's rows as they are.
KnnLists ring_search(const mpi::Comm& comm, const DistributedRows& rows, const RingOptions& options, SearchBackend& backend,
                     util::Report& report) {
  const std::int64_t n = rows.total;
  const std::int64_t d = rows.dim;
  const BlockRange mine = rows.range();
  const int p = comm.size();
  const int r = comm.rank();
  // Every rank's rows (block_range for a corpus; any contiguous partition works).
  const auto begins = comm.allgather<std::int64_t>(mine.begin);
  const auto ends = comm.allgather<std::int64_t>(mine.end);
  std::vector<BlockRange> ranges(static_cast<std::size_t>(p));
  std::int64_t largest_block = 0;
  for (int x = 0; x < p; ++x) {
    ranges[x] = {begins[x], ends[x]};
    largest_block = std::max(largest_block, ranges[x].size());
  }
  const std::int64_t chunk_rows = std::max<std::int64_t>(1, std::min(options.chunk_rows, largest_block));
  const std::int64_t chunks = (largest_block + chunk_rows - 1) / chunk_rows;

  mpi::collectively(comm, [&] {
    backend.begin(rows.own, d, options.k, chunk_rows);
  });
  util::Progress progress(comm, "knn", n * n, "pairs", options.quiet);
  double wait_seconds = 0, pairs_scored = 0;
  std::vector<double> step_seconds;

  for (std::int64_t j = 0; j < chunks; ++j) {
    for (int s = 0; s < p; ++s) {
      const auto t0 = std::chrono::steady_clock::now();
      // At step s this rank holds chunk j of the block of rank r - s: its own rows at step 0, then
      // the chunk received from the left at step s - 1.
      const BlockRange range = chunk_of(ranges[(r - s + p) % p], chunk_rows, j);
      const Chunk held = s == 0 ? Chunk{Chunk::kOwnRows, range.begin - mine.begin, range.size(),
                                        GlobalId(range.begin)}
                                : Chunk{(s - 1) % 2, 0, range.size(), GlobalId(range.begin)};
      if (s + 1 < p) {
        const BlockRange next = chunk_of(ranges[(r - s - 1 + p) % p], chunk_rows, j);
        backend.start_shift(held, s % 2, next.size());
      }
      backend.search(held);
      if (s + 1 < p) wait_seconds += backend.finish_shift();
      step_seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      progress.advance(mine.size() * held.count);
      pairs_scored += static_cast<double>(mine.size()) * static_cast<double>(held.count);
    }
  }
  progress.finish();

  // Per ring step: min/mean/max over steps of this rank, then over ranks in the report.
  double step_min = step_seconds.empty() ? 0 : *std::min_element(step_seconds.begin(), step_seconds.end());
  double step_max = step_seconds.empty() ? 0 : *std::max_element(step_seconds.begin(), step_seconds.end());
  double step_sum = 0;
  for (double x : step_seconds) step_sum += x;
  report.add_counter("ring_steps", static_cast<double>(step_seconds.size()));
  report.add_counter("pairs_scored", pairs_scored);  // (own rows) x (rows of every block), the O(N^2 / P) work
  report.add_counter("ring_step_seconds_min", step_min);
  report.add_counter("ring_step_seconds_mean", step_seconds.empty() ? 0 : step_sum / step_seconds.size());
  report.add_counter("ring_step_seconds_max", step_max);
  report.add_counter("ring_wait_seconds", wait_seconds);
  report.add_counter("bytes_sent", backend.bytes_sent());
  KnnLists lists = backend.finish();
  for (const auto& [name, value] : backend.counters()) report.add_counter(name, value);
  return lists;
}

}  // namespace

KnnLists exact_ring_knn(const mpi::Comm& comm, const DistributedRows& rows, const RingOptions& options, SearchBackend& backend,
                        util::Report& report) {
  // One row per group of identical rows (knn/identical_rows.hpp); the same lists, bit for bit.
  return search_identical_rows_once(comm, rows, options.k, report, [&](const DistributedRows& distinct) {
    return ring_search(comm, distinct, options, backend, report);
  });
}

}  // namespace weave::knn
