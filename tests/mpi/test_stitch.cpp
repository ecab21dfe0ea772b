// Stitching's parts against sequential oracles at 1, 2, 3, 5 ranks: the meeting-point windows
// against a plain sort-and-window over all registrations, the pair scores against a direct computation
// (and the canonical similarity) with any fetch batch, the sketch estimates against integer dots of
// int8 codes computed here, and the whole order stage on a duplicate-heavy corpus: the
// stitched order is the same on all ranks as on rank 0 alone (a communicator of one rank).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <utility>

#include "corpus/corpus.hpp"
#include "io/hdf5.hpp"
#include "knn/knn_stage.hpp"
#include "knn/topk.hpp"
#include "order/meeting_points.hpp"
#include "order/order_stage.hpp"
#include "order/pair_similarity.hpp"
#include "order/row_sketches.hpp"
#include "test_helpers.hpp"
#include "util/random.hpp"
#include "util/report.hpp"

namespace weave {
namespace {

/// Registrations of end e (every e in [0, n) is an end; its partner is e ^ 1 for half of them):
/// `per_end` meeting points out of `meetings`, keys from few values (ties), drawn from e.
std::vector<order::Registration> registrations_of(std::int64_t e, int per_end, std::int64_t meetings, int ranks) {
  util::CounterRng rng(7, 1, static_cast<std::uint64_t>(e));
  std::vector<order::Registration> out;
  const std::int64_t partner = (e % 4 < 2) ? (e ^ 1) : e;
  for (int j = 0; j < per_end; ++j) {
    // Meeting 0 is a hub that half the ends register at (duplicates meet like this).
    const std::int64_t m = j == 0 && e % 2 == 0 ? 0 : static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(meetings)));
    const float key = static_cast<float>(rng.below(5)) / 4.0f;
    out.push_back({m, static_cast<int>(m % ranks), key, e, partner});
  }
  return out;
}

/// The documented estimate for similarity keys: cos(a + b) for the angles to the meeting document.
float lower_bound(float x, float y) {
  const double s = std::clamp<double>(x, -1, 1), t = std::clamp<double>(y, -1, 1);
  return static_cast<float>(s * t - std::sqrt((1 - s * s) * (1 - t * t)));
}

/// Windows at every meeting point over all registrations, each pair offered to its end that comes
/// first in the meeting's order, then each end's per_end best offers (by the estimate, the best of a
/// pair's meetings; ties by the other end's id): every end's kept pairs (a pair kept by both of its
/// ends twice), sorted.
std::vector<std::pair<std::int64_t, std::int64_t>> window_join_oracle(std::vector<order::Registration> every, int window,
                                                                      int per_end) {
  std::sort(every.begin(), every.end(), [](const auto& x, const auto& y) {
    if (x.meeting != y.meeting) return x.meeting < y.meeting;
    if (x.key != y.key) return x.key > y.key;
    return x.end < y.end;
  });
  std::map<std::int64_t, std::map<std::int64_t, float>> offers;  // end -> other -> best estimate
  for (std::size_t i = 0; i < every.size(); ++i)
    for (std::size_t j = i + 1; j < every.size() && j <= i + window && every[j].meeting == every[i].meeting; ++j) {
      if (every[i].end == every[j].end || every[i].partner == every[j].end) continue;
      const float e = lower_bound(every[i].key, every[j].key);
      auto [it, inserted] = offers[every[i].end].emplace(every[j].end, e);
      if (!inserted) it->second = std::max(it->second, e);
    }
  std::vector<std::pair<std::int64_t, std::int64_t>> want;
  for (const auto& [u, others] : offers) {
    std::vector<std::pair<float, std::int64_t>> ranked;
    for (const auto& [v, e] : others) ranked.emplace_back(-e, v);
    std::sort(ranked.begin(), ranked.end());
    const std::size_t keep = std::min<std::size_t>(ranked.size(), per_end);
    for (std::size_t x = 0; x < keep; ++x) want.push_back(std::minmax(u, ranked[x].second));
  }
  std::sort(want.begin(), want.end());
  return want;
}

TEST(MeetingPoints, PairsAreThoseOfASequentialWindowJoin) {
  mpi::Comm comm;
  const std::int64_t n = 3001, meetings = 500;
  const int per_end = 3, window = 4;
  const BlockRange range = block_range(n, comm.size(), comm.rank());
  std::vector<order::Registration> mine, every;
  for (std::int64_t e = 0; e < n; ++e)
    for (const auto& r : registrations_of(e, per_end, meetings, comm.size())) {
      every.push_back(r);
      if (range.contains(GlobalId(e))) mine.push_back(r);
    }
  // Every pair (an end has at most per_end x window offers), then each end's two most promising.
  // Offers in one round, then in rounds of 97 pairs (a different number of rounds on each rank).
  for (auto [kept, round_pairs] : {std::pair{per_end * window, 1 << 19}, std::pair{2, 1 << 19},
                                   std::pair{per_end * window, 97}, std::pair{2, 97}}) {
    order::MeetingStats stats;
    if (kept == 2) std::reverse(mine.begin(), mine.end());  // registrations in any order
    // Every document is an end here, so its number is its id.
    std::vector<std::int64_t> end_offsets = block_starts(n, comm.size());
    end_offsets.push_back(n);
    const auto got = order::pair_ends_at_meetings(comm, n, end_offsets, mine, window, order::MeetingKeys::similarity,
                                                  kept, &stats, round_pairs);
    std::vector<std::int64_t> flat;
    for (const auto& p : got) {
      ASSERT_LT(p.a, p.b);
      ASSERT_TRUE(range.contains(GlobalId(p.a)) || range.contains(GlobalId(p.b))) << "a pair kept by no end here";
      flat.insert(flat.end(), {p.a, p.b});
    }
    const auto all = testing::allgather_concat(comm, flat);
    std::vector<std::pair<std::int64_t, std::int64_t>> got_pairs;
    for (std::size_t x = 0; x + 1 < all.size(); x += 2) got_pairs.emplace_back(all[x], all[x + 1]);
    std::sort(got_pairs.begin(), got_pairs.end());
    const auto want = window_join_oracle(every, window, kept);
    EXPECT_EQ(got_pairs, want) << "keeping " << kept << " per end, rounds of " << round_pairs << " pairs";
    // The hub holds half the ends but yields only window pairs each.
    EXPECT_GE(comm.max(stats.largest_meeting), n / 2);
    EXPECT_LE(static_cast<std::int64_t>(want.size()), n * kept);
    // Both ends kept some pairs (the test's hub and ties make many): each comes twice.
    EXPECT_NE(std::adjacent_find(want.begin(), want.end()), want.end());
  }
}

/// Unit rows of a random corpus, one rank's block of them as held rows, and pairs with an owned end.
struct PairsFixture {
  std::int64_t n = 777, d;
  std::vector<float> unit;
  corpus::CorpusBlock block;
  std::vector<order::EndPair> pairs;
  std::vector<std::int64_t> owned;

  PairsFixture(const mpi::Comm& comm, std::int64_t dim) : d(dim) {
    unit = testing::random_corpus(n, d, 11).embeddings;
    for (std::int64_t i = 0; i < n; ++i) {
      double s = 0;
      for (std::int64_t j = 0; j < d; ++j) s += double(unit[i * d + j]) * unit[i * d + j];
      for (std::int64_t j = 0; j < d; ++j) unit[i * d + j] = static_cast<float>(unit[i * d + j] / std::sqrt(s));
    }
    for (std::int64_t j = 0; j < d; ++j) unit[5 * d + j] = 0;  // a zero row: sketch all zero, scale 0
    block.info.num_docs = n;
    block.info.dim = d;
    block.range = block_range(n, comm.size(), comm.rank());
    block.embeddings.assign(unit.begin() + block.range.begin * d, unit.begin() + block.range.end * d);
    // Pairs with the owned document first or second, the other anywhere.
    for (std::int64_t a = block.range.begin; a < block.range.end; ++a) {
      util::CounterRng rng(5, 5, static_cast<std::uint64_t>(a));
      for (int j = 0; j < 4; ++j) {
        const auto b = static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(n)));
        if (b != a) pairs.push_back({std::min(a, b), std::max(a, b)});
      }
      owned.push_back(a);
    }
  }
  corpus::SomeRows held() const { return corpus::SomeRows(block.range, d, owned, {block.embeddings.begin(), block.embeddings.end()}); }
};

TEST(PairSimilarity, EqualsTheCanonicalSimilarityWithAnyFetchBatch) {
  mpi::Comm comm;
  const PairsFixture f(comm, 40);
  const corpus::SomeRows held = f.held();
  for (std::int64_t batch : {1, 7, 100000}) {
    std::int64_t fetched = -1;
    const auto sims = order::score_pairs(comm, f.n, held, f.pairs, batch, &fetched);
    ASSERT_EQ(sims.size(), f.pairs.size());
    for (std::size_t j = 0; j < f.pairs.size(); ++j) {
      const float* a = f.unit.data() + f.pairs[j].a * f.d;
      const float* b = f.unit.data() + f.pairs[j].b * f.d;
      ASSERT_EQ(sims[j], knn::canonical_similarity(a, b, f.d)) << "batch " << batch << ", pair " << f.pairs[j].a << "-" << f.pairs[j].b;
    }
    if (comm.size() == 1) EXPECT_EQ(fetched, 0);
  }
}

/// The oracle of a sketch: codes v = x * (7 / max|x|) in float, rounded half away from zero as
/// the sketch does it (v + 0.5 or v - 0.5 in float, truncated), and the scale max|x| / 7.
std::vector<double> sketch_oracle(const float* row, std::int64_t d, double* scale) {
  float largest = 0;
  for (std::int64_t j = 0; j < d; ++j) largest = std::max(largest, std::abs(row[j]));
  *scale = largest / 7.0f;
  std::vector<double> codes(static_cast<std::size_t>(d), 0);
  for (std::int64_t j = 0; j < d && largest > 0; ++j) {
    const float v = row[j] * (7.0f / largest);
    codes[j] = std::trunc(v >= 0 ? v + 0.5f : v - 0.5f);
  }
  return codes;
}

TEST(PairSimilarity, SketchEstimatesAreExactIntegerDotsWithAnyFetchBatchAndCloseToTheSimilarity) {
  mpi::Comm comm;
  const PairsFixture f(comm, 37);  // the last word of codes part padding
  const corpus::SomeRows held = f.held();
  const order::RowSketches sketches(held);
  ASSERT_EQ(sketches.record_words(), 6);  // five words of codes (eight a word, three unused), then the scale
  for (std::int64_t batch : {1, 7, 100000}) {
    std::int64_t fetched = -1;
    // Every document is held, so its number is its id and its place among the rows is its local index.
    order::NumberedEnds numbered{block_starts(f.n, comm.size()), {}};
    numbered.offsets.push_back(f.n);
    for (std::int64_t doc : f.owned) numbered.position.push_back(static_cast<std::int32_t>(held.position(doc)));
    const auto estimates = order::estimate_pairs(comm, numbered, sketches, f.pairs, batch, &fetched);
    ASSERT_EQ(estimates.size(), f.pairs.size());
    for (std::size_t j = 0; j < f.pairs.size(); ++j) {
      const float* a = f.unit.data() + f.pairs[j].a * f.d;
      const float* b = f.unit.data() + f.pairs[j].b * f.d;
      double scale_a = 0, scale_b = 0;
      const auto ca = sketch_oracle(a, f.d, &scale_a), cb = sketch_oracle(b, f.d, &scale_b);
      double dot = 0;
      for (std::int64_t x = 0; x < f.d; ++x) dot += ca[x] * cb[x];
      ASSERT_EQ(estimates[j], static_cast<float>(dot * (scale_a * scale_b)))
          << "batch " << batch << ", pair " << f.pairs[j].a << "-" << f.pairs[j].b;
      // Each value is off by at most half a step (scale / 2): |x.y - x'.y'| <= |x - x'| |y| + |x'| |y - y'|.
      const double half_steps = std::sqrt(double(f.d)) / 2 * (scale_a + scale_b * (1 + std::sqrt(double(f.d)) * scale_a / 2));
      EXPECT_LE(std::abs(estimates[j] - knn::canonical_similarity(a, b, f.d)), half_steps + 1e-6);
      if (f.pairs[j].a == 5 || f.pairs[j].b == 5) EXPECT_EQ(estimates[j], 0.0f) << "a zero row estimates 0";
    }
    if (comm.size() == 1) EXPECT_EQ(fetched, 0);
    else EXPECT_GT(comm.sum(fetched), 0);
  }
  // The same bits from either end.
  for (std::int64_t x : f.owned)
    for (std::int64_t y : f.owned)
      ASSERT_EQ(order::sketch_similarity(sketches.record(x), sketches.record(y), f.d),
                order::sketch_similarity(sketches.record(y), sketches.record(x), f.d));
}

std::vector<std::int64_t> read_order(const mpi::Comm& comm, const std::string& path) {
  io::File f = io::File::open(comm, path);
  const auto rows = f.dataset_info("/order").rows();
  std::vector<std::int64_t> out(static_cast<std::size_t>(rows));
  io::read_rows(f, "/order", 0, rows, 1, out.data());
  return out;
}

TEST(Stitching, OrderOnAllRanksEqualsTheOrderOnOneRank) {
  mpi::Comm comm;
  testing::ScratchDir dir(comm);
  SynthConfig s;
  s.docs = 2500;
  s.dim = 24;
  s.topics = 40;
  s.duplicate_share = 0.3;  // exact copies: hubs and ties for the stitching
  s.duplicate_noise = 0;
  const std::string corpus = testing::write_synth_corpus(comm, dir, s, "c.h5");
  util::Report report(comm, "test");
  KnnConfig kc;
  kc.corpus.path = corpus;
  kc.k = 6;
  kc.out = dir.path("knn.h5");
  knn::run_knn_stage(comm, kc, CommonOptions{true, ""}, report);

  // Automatic (exact levels from the start on a corpus this small), then with the exact levels
  // held back to 16 ends: graph levels, then projection levels between the topics' components.
  for (std::int64_t exact_ends : {0, 16}) {
    OrderConfig config;
    config.corpus.path = corpus;
    config.knn = kc.out;
    config.stitch_exact_ends = exact_ends;
    config.out = dir.path("all.h5");
    util::Report on_all(comm, "order");
    order::run_order_stage(comm, config, CommonOptions{true, ""}, on_all);
    const auto all = read_order(comm, config.out);
    const nlohmann::json figures = on_all.collect()["figures"];
    std::set<std::string> methods;
    if (comm.is_root())
      for (const auto& level : figures["stitch_level_details"]) methods.insert(level["method"].get<std::string>());
    if (comm.is_root() && exact_ends == 16) {
      EXPECT_TRUE(methods.count("graph")) << "no graph level ran";
      EXPECT_TRUE(methods.count("projection")) << "no projection level ran";
    }

    const mpi::Comm alone = comm.split(comm.is_root() ? 0 : mpi::Comm::kNoColor);
    if (!alone.is_null()) {
      util::Report own(alone, "order");
      config.out = dir.path("one.h5");
      order::run_order_stage(alone, config, CommonOptions{true, ""}, own);
      const auto one = read_order(alone, config.out);
      std::vector<std::int64_t> sorted = one;
      std::sort(sorted.begin(), sorted.end());
      for (std::int64_t i = 0; i < s.docs; ++i) ASSERT_EQ(sorted[i], i) << "not a permutation";
      EXPECT_EQ(all, one) << "the stitched order depends on the number of ranks (exact ends " << exact_ends << ")";
    }
    comm.barrier();
  }
}

}  // namespace
}  // namespace weave
