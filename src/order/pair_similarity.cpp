#include "order/pair_similarity.hpp"

#include <algorithm>

#include "corpus/row_rounds.hpp"
#include "knn/canonical_vector.hpp"
#include "mpi/ask_owners.hpp"
#include "util/radix_sort.hpp"
#include "weave/error.hpp"

namespace weave::order {

namespace {

/// score(record(x), record(y)) of each pair of ids in [0, id_end), with `width` elements per
/// record: an end held here (here(x)) from record(x), a remote end's fetched from owner(x) in rounds
/// of at most batch_rows records. look_up_ahead(x) asks for what record(x) reads to find the record
/// (its position).
template <typename Here, typename Owner, typename RecordOf, typename LookUpAhead, typename Score>
std::vector<float> score_with(const mpi::Comm& comm, std::int64_t id_end, Here&& here, Owner&& owner, std::int64_t width,
                              RecordOf&& record, LookUpAhead&& look_up_ahead, Score&& score,
                              const std::vector<EndPair>& pairs, std::int64_t batch_rows, std::int64_t* rows_fetched) {
  // Records of the pair `kAhead` places on are prefetched while a pair is scored, and the
  // positions they are found by `kAhead` places before that: finding a record to prefetch it
  // would otherwise wait on the position's cache miss.
  constexpr std::size_t kAhead = 4;
  std::vector<float> sims(pairs.size());
  // Pairs with both ends here are scored at once, those with a remote end are kept as (remote end,
  // end here, pair) and grouped by the remote end: each round fetches a run of them. The end here
  // travels with them: looking it up in the pairs, in the remote ends' order, was a cache miss a
  // pair (a third of the scoring loop's time at 10^6 x 768 on 2 ranks).
  struct Remote {
    std::int64_t other, mine;
    std::size_t pair;
  };
  std::vector<Remote> remote;
  auto both_here = [&](std::size_t j) { return here(pairs[j].a) && here(pairs[j].b); };
  for (std::size_t j = 0; j < pairs.size(); ++j) {
    if (j + 2 * kAhead < pairs.size()) look_up_ahead(pairs[j + 2 * kAhead].a), look_up_ahead(pairs[j + 2 * kAhead].b);
    if (j + kAhead < pairs.size() && both_here(j + kAhead)) {
      corpus::prefetch_row(record(pairs[j + kAhead].a), width);
      corpus::prefetch_row(record(pairs[j + kAhead].b), width);
    }
    WEAVE_ASSERT(pairs[j].a < pairs[j].b, "pair similarity: a pair not in ascending order");
    if (both_here(j)) sims[j] = score(record(pairs[j].a), record(pairs[j].b));
    else if (here(pairs[j].a)) remote.push_back({pairs[j].b, pairs[j].a, j});
    else remote.push_back({pairs[j].a, pairs[j].b, j});
  }
  // By the remote end, in O(pairs) passes (a pair's score does not depend on where it is in its
  // group): std::sort took 0.02 s of the 0.19 s that the first level's sketch scoring takes at 10^6
  // x 768 on 2 ranks.
  util::radix_sort_by_key(remote, static_cast<std::uint64_t>(id_end), [](const Remote& r) { return r.other; });
  std::vector<std::int64_t> wanted;  // distinct remote documents, ascending
  std::vector<std::size_t> run;      // wanted[w]'s pairs are remote[run[w], run[w + 1])
  for (std::size_t x = 0; x < remote.size(); ++x)
    if (wanted.empty() || wanted.back() != remote[x].other) wanted.push_back(remote[x].other), run.push_back(x);
  run.push_back(remote.size());
  // Over several rounds, each round asks every owner its share (ascending ids would ask one owner at
  // a time); the pairs follow their remote end. Where one owner is asked (2 ranks) they are in that
  // order already, and not copied.
  std::vector<std::size_t> order;
  if (wanted.size() > static_cast<std::size_t>(std::max<std::int64_t>(1, batch_rows)))
    order = mpi::spread_over_owners(wanted, comm.size(), owner);
  bool reordered = false;
  for (std::size_t w = 0; w < order.size() && !reordered; ++w) reordered = order[w] != w;
  if (reordered) {
    std::vector<std::int64_t> spread_wanted(wanted.size());
    std::vector<Remote> spread_remote;
    spread_remote.reserve(remote.size());
    for (std::size_t w = 0; w < order.size(); ++w) {
      spread_wanted[w] = wanted[order[w]];
      spread_remote.insert(spread_remote.end(), remote.begin() + static_cast<std::ptrdiff_t>(run[order[w]]),
                           remote.begin() + static_cast<std::ptrdiff_t>(run[order[w] + 1]));
    }
    wanted = std::move(spread_wanted);
    remote = std::move(spread_remote);
  }
  std::size_t next = 0;
  corpus::visit_rows_by(comm, owner, width, wanted, batch_rows, record, [&](std::size_t first, std::size_t count, const auto* fetched) {
    for (std::size_t x = 0; x < count; ++x)
      for (; next < remote.size() && remote[next].other == wanted[first + x]; ++next) {
        if (next + 2 * kAhead < remote.size()) look_up_ahead(remote[next + 2 * kAhead].mine);
        if (next + kAhead < remote.size()) corpus::prefetch_row(record(remote[next + kAhead].mine), width);
        const Remote& r = remote[next];
        // In the pair's own order (a < b): a score need not be symmetric in its arguments' bits.
        const auto* fetched_record = fetched + x * width;
        sims[r.pair] = r.mine < r.other ? score(record(r.mine), fetched_record) : score(fetched_record, record(r.mine));
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
  const BlockOwners owners(num_docs, comm.size());
  return score_with(
      comm, num_docs, [&](std::int64_t doc) { return rows.range().contains(GlobalId(doc)); },
      [&](std::int64_t doc) { return owners(GlobalId(doc)); }, d, [&](std::int64_t doc) { return rows.row(doc); },
      [&](std::int64_t doc) { rows.prefetch_position(doc); },
      [&](const float* a, const float* b) { return knn::canonical_similarity_fast(a, b, d); }, pairs, batch_rows, rows_fetched);
}

std::vector<float> estimate_pairs(const mpi::Comm& comm, const NumberedEnds& ends, const RowSketches& sketches,
                                  const std::vector<EndPair>& pairs, std::int64_t batch_rows,
                                  std::int64_t* rows_fetched) {
  const std::int64_t d = sketches.dim();
  const std::int64_t first = ends.offsets[comm.rank()], last = ends.offsets[comm.rank() + 1];
  WEAVE_ASSERT(static_cast<std::int64_t>(ends.position.size()) == last - first, "pair similarity: ends numbered here and their positions differ");
  return score_with(
      comm, ends.offsets.back(), [&](std::int64_t x) { return x >= first && x < last; },
      [&](std::int64_t x) { return ends.owner(x); }, sketches.record_words(),
      [&](std::int64_t x) { return sketches.record_at(static_cast<std::size_t>(ends.position[x - first])); },
      [&](std::int64_t x) { __builtin_prefetch(ends.position.data() + (x - first)); },
      [&](const std::uint32_t* a, const std::uint32_t* b) { return sketch_similarity(a, b, d); }, pairs, batch_rows,
      rows_fetched);
}

}  // namespace weave::order
