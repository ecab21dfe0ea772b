#include "order/pair_similarity.hpp"

#include <algorithm>

#include "corpus/row_rounds.hpp"
#include "knn/topk.hpp"

namespace weave::order {

namespace {

/// The canonical similarity built for the widest vector unit present: its partial sums are
/// independent lanes and the float products are exact in float64, so every build gives the same
/// bits (test_canonical) while AVX2/AVX-512 lanes score a pair 2-4x faster than the SSE2 baseline.
[[gnu::target_clones("avx512f", "avx2", "default")]] float pair_similarity(const float* a, const float* b,
                                                                              std::int64_t d) {
  return knn::canonical_similarity(a, b, d);
}

/// score(record(x), record(y)) of each pair, with `width` elements per record: an owned end's from
/// record(doc), a remote end's fetched from its owner in rounds of at most batch_rows records.
template <typename RecordOf, typename Score>
std::vector<float> score_with(const mpi::Comm& comm, std::int64_t num_docs, BlockRange range, std::int64_t width,
                              RecordOf&& record, Score&& score, const std::vector<EndPair>& pairs,
                              std::int64_t batch_rows, std::int64_t* rows_fetched) {
  std::vector<float> sims(pairs.size());
  // Each pair as (local end, other end); pairs with a remote end, by that end: each batch fetches a
  // run of them.
  auto mine = [&](std::size_t j) { return range.contains(GlobalId(pairs[j].a)) ? pairs[j].a : pairs[j].b; };
  auto other = [&](std::size_t j) { return range.contains(GlobalId(pairs[j].a)) ? pairs[j].b : pairs[j].a; };
  std::vector<std::size_t> remote;
  for (std::size_t j = 0; j < pairs.size(); ++j) {
    if (range.contains(GlobalId(other(j))))
      sims[j] = score(record(pairs[j].a), record(pairs[j].b));
    else
      remote.push_back(j);
  }
  std::sort(remote.begin(), remote.end(), [&](std::size_t x, std::size_t y) {
    return other(x) != other(y) ? other(x) < other(y) : mine(x) < mine(y);
  });
  std::vector<std::int64_t> wanted;  // distinct remote documents, ascending
  for (std::size_t j : remote)
    if (wanted.empty() || wanted.back() != other(j)) wanted.push_back(other(j));
  std::size_t next_pair = 0;
  corpus::visit_rows(comm, num_docs, width, wanted, batch_rows, record, [&](std::size_t first, std::size_t count, const auto* fetched) {
    for (std::size_t x = 0; x < count; ++x)
      for (; next_pair < remote.size() && other(remote[next_pair]) == wanted[first + x]; ++next_pair) {
        const std::size_t j = remote[next_pair];
        // In the pair's own order (a, b): a score need not be symmetric in its arguments' bits.
        const auto* fetched_record = fetched + x * width;
        sims[j] = pairs[j].a == mine(j) ? score(record(pairs[j].a), fetched_record)
                                        : score(fetched_record, record(pairs[j].b));
      }
  });
  if (rows_fetched) *rows_fetched = static_cast<std::int64_t>(wanted.size());
  return sims;
}

}  // namespace

std::vector<float> score_pairs(const mpi::Comm& comm, std::int64_t num_docs, const corpus::SomeRows& rows,
                               const std::vector<EndPair>& pairs, std::int64_t batch_rows,
                               std::int64_t* rows_fetched) {
  const std::int64_t d = rows.dim();
  return score_with(
      comm, num_docs, rows.range(), d, [&](std::int64_t doc) { return rows.row(doc); },
      [&](const float* a, const float* b) { return pair_similarity(a, b, d); }, pairs, batch_rows, rows_fetched);
}

std::vector<float> estimate_pairs(const mpi::Comm& comm, std::int64_t num_docs, const RowSketches& sketches,
                                  const std::vector<EndPair>& pairs, std::int64_t batch_rows,
                                  std::int64_t* rows_fetched) {
  const std::int64_t d = sketches.dim();
  return score_with(
      comm, num_docs, sketches.range(), sketches.record_words(), [&](std::int64_t doc) { return sketches.record(doc); },
      [&](const std::uint32_t* a, const std::uint32_t* b) { return sketch_similarity(a, b, d); }, pairs, batch_rows,
      rows_fetched);
}

}  // namespace weave::order
