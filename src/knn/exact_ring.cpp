#include "knn/exact_ring.hpp"

#include <algorithm>
#include <chrono>

#include "mpi/ring.hpp"
#include "util/progress.hpp"
#include "util/report.hpp"

namespace weave::knn {

namespace {

/// Rows [begin, end) of chunk j of block b.
BlockRange chunk_of(const BlockRange& b, std::int64_t chunk_rows, std::int64_t j) {
  const std::int64_t begin = std::min(b.end, b.begin + j * chunk_rows);
  return {begin, std::min(b.end, begin + chunk_rows)};
}

}  // namespace

KnnLists exact_ring_knn(const mpi::Comm& comm, const corpus::CorpusBlock& block, const KnnConfig& config,
                        SearchBackend& backend, bool quiet, util::Report& report) {
  const std::int64_t n = block.info.num_docs;
  const std::int64_t d = block.info.dim;
  const int p = comm.size();
  const int r = comm.rank();
  // Every rank's rows (block_range for a corpus; any contiguous partition works).
  const auto begins = comm.allgather<std::int64_t>(block.range.begin);
  const auto ends = comm.allgather<std::int64_t>(block.range.end);
  std::vector<BlockRange> ranges(static_cast<std::size_t>(p));
  std::int64_t largest_block = 0;
  for (int x = 0; x < p; ++x) {
    ranges[x] = {begins[x], ends[x]};
    largest_block = std::max(largest_block, ranges[x].size());
  }
  const std::int64_t chunk_rows = std::max<std::int64_t>(1, std::min(config.corpus.max_block_rows, largest_block));
  const std::int64_t chunks = (largest_block + chunk_rows - 1) / chunk_rows;

  TopK topk(block.size(), config.k);
  std::vector<float> buffers[2];
  if (p > 1)
    for (auto& b : buffers) b.resize(static_cast<std::size_t>(chunk_rows * d));
  mpi::RingShift ring(comm, d);
  util::Progress progress(comm, "knn", n * n, "pairs", quiet);
  const RowBlock queries{block.embeddings.data(), block.size(), GlobalId(block.range.begin)};
  double wait_seconds = 0;
  std::vector<double> step_seconds;

  for (std::int64_t j = 0; j < chunks; ++j) {
    for (int s = 0; s < p; ++s) {
      const auto t0 = std::chrono::steady_clock::now();
      // At step s this rank holds chunk j of the block of rank r - s.
      const int owner = (r - s + p) % p;
      const BlockRange held = chunk_of(ranges[owner], chunk_rows, j);
      const float* held_rows = s == 0 ? block.embeddings.data() + (held.begin - block.range.begin) * d
                                      : buffers[(s - 1) % 2].data();
      if (s + 1 < p) {
        const BlockRange next = chunk_of(ranges[(r - s - 1 + p) % p], chunk_rows, j);
        ring.start(held_rows, held.size(), buffers[s % 2].data(), next.size());
      }
      backend.search(queries, RowBlock{held_rows, held.size(), GlobalId(held.begin)}, d, topk, [&] {
        if (s + 1 < p) ring.poll();
      });
      if (s + 1 < p) wait_seconds += ring.wait();
      step_seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      progress.advance(block.size() * held.size());
    }
  }
  progress.finish();

  // Per ring step: min/mean/max over steps of this rank, then over ranks in the report.
  double step_min = step_seconds.empty() ? 0 : *std::min_element(step_seconds.begin(), step_seconds.end());
  double step_max = step_seconds.empty() ? 0 : *std::max_element(step_seconds.begin(), step_seconds.end());
  double step_sum = 0;
  for (double x : step_seconds) step_sum += x;
  report.add_counter("ring_steps", static_cast<double>(step_seconds.size()));
  report.add_counter("ring_step_seconds_min", step_min);
  report.add_counter("ring_step_seconds_mean", step_seconds.empty() ? 0 : step_sum / step_seconds.size());
  report.add_counter("ring_step_seconds_max", step_max);
  report.add_counter("ring_wait_seconds", wait_seconds);
  report.add_counter("bytes_sent", ring.bytes_sent());

  KnnLists out;
  out.k = config.k;
  topk.finish(out.neighbors, out.similarities);
  return out;
}

}  // namespace weave::knn
