// The block search's held rows (knn/block_search.hpp): a unit whose rows are picked by index among
// the held own and extra rows, or a run of own rows, finds the same lists as the brute-force
// oracle over the same rows given explicitly (with their ids); units of one batch keep their lists
// apart; k-means's fixed-point sums are std::llround's, summed exactly.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <numeric>

#include "knn/block_search.hpp"
#include "test_helpers.hpp"
#include "util/random.hpp"

namespace weave {
namespace {

std::vector<float> unit_rows(std::int64_t n, std::int64_t d, std::uint64_t seed) {
  std::vector<float> rows(static_cast<std::size_t>(n * d));
  for (std::int64_t i = 0; i < n; ++i) {
    util::CounterRng rng(seed, 0, static_cast<std::uint64_t>(i));
    double norm = 0;
    for (std::int64_t j = 0; j < d; ++j) norm += std::pow(rows[i * d + j] = static_cast<float>(rng.normal()), 2);
    for (std::int64_t j = 0; j < d; ++j) rows[i * d + j] = static_cast<float>(rows[i * d + j] / std::sqrt(norm));
  }
  return rows;
}

/// Brute force over explicit rows with ids (the oracle of the held searches): the k best of each
/// query by the reference similarity, (similarity desc, id asc), the query's own id excluded.
void oracle(const std::vector<float>& q, const std::vector<std::int64_t>& q_ids, const std::vector<float>& db,
            const std::vector<std::int64_t>& db_ids, std::int64_t d, int k, std::vector<std::int64_t>& ids,
            std::vector<float>& sims) {
  const auto nq = static_cast<std::int64_t>(q_ids.size());
  const auto nb = static_cast<std::int64_t>(db_ids.size());
  for (std::int64_t i = 0; i < nq; ++i) {
    std::vector<std::pair<float, std::int64_t>> all;
    for (std::int64_t b = 0; b < nb; ++b)
      if (db_ids[b] != q_ids[i]) all.emplace_back(testing::reference_similarity(&q[i * d], &db[b * d], d), db_ids[b]);
    std::sort(all.begin(), all.end(), [](auto& a, auto& b) { return a.first != b.first ? a.first > b.first : a.second < b.second; });
    for (int j = 0; j < k; ++j) {
      ids.push_back(j < static_cast<int>(all.size()) ? all[j].second : -1);
      sims.push_back(j < static_cast<int>(all.size()) ? all[j].first : std::numeric_limits<float>::quiet_NaN());
    }
  }
}

TEST(BlockSearch, HeldRowsPickedRunsAndGivenRowsGiveTheOraclesLists) {
  mpi::Comm comm;
  const std::int64_t d = 24, n_own = 700, n_extra = 150, first = 1000;
  const int k = 7;
  auto own = unit_rows(n_own, d, 1);
  // Extra rows: some copies of own rows (ties by id), the rest new; ids scattered between and below the own ids.
  auto extra = unit_rows(n_extra, d, 2);
  for (std::int64_t i = 0; i < 30; ++i) std::copy_n(&own[(5 * i) * d], d, &extra[i * d]);
  std::vector<std::int64_t> extra_ids(static_cast<std::size_t>(n_extra));
  for (std::int64_t i = 0; i < n_extra; ++i) extra_ids[i] = (i % 2 == 0) ? 3 * i : first + n_own + 11 * i;
  const auto given = unit_rows(40, d, 3);

  const auto search = knn::make_block_search(KnnBackend::kCpu, comm);
  search->hold_own(own.data(), n_own, d, GlobalId(first));
  search->hold_extra(extra.data(), extra_ids.data(), n_extra);
  auto held_row = [&](std::int64_t x) { return x < n_own ? &own[x * d] : &extra[(x - n_own) * d]; };
  auto held_id = [&](std::int64_t x) { return x < n_own ? first + x : extra_ids[x - n_own]; };

  // Unit 0: picked queries and database, mixing own and extra rows, overlapping (self excluded).
  std::vector<std::int64_t> q0, db0;
  for (std::int64_t x = 0; x < n_own + n_extra; x += 3) db0.push_back(x);
  for (std::int64_t x = n_own + n_extra - 1; x >= 0; x -= 7) q0.push_back(x);
  // Unit 1: a run of own rows against given rows with ids; unit 2: given queries without ids
  // against a run; unit 3: an empty database; unit 4: no queries.
  std::vector<std::int64_t> given_ids(40);
  std::iota(given_ids.begin(), given_ids.end(), first + 200);  // some equal to own ids of the run: excluded
  const std::vector<knn::SearchUnit> units = {
      {knn::RowSet::held_picks(q0.data(), static_cast<std::int64_t>(q0.size())),
       knn::RowSet::held_picks(db0.data(), static_cast<std::int64_t>(db0.size()))},
      {knn::RowSet::held_run(190, 60), knn::RowSet{given.data(), given_ids.data(), 40}},
      {knn::RowSet{given.data(), nullptr, 25}, knn::RowSet::held_run(100, 500)},
      {knn::RowSet::held_picks(q0.data(), 5), knn::RowSet{}},
      {knn::RowSet::held_run(0, 0), knn::RowSet::held_run(0, 10)},
  };
  knn::KnnLists got;
  search->search_units(units, d, k, got);

  std::vector<std::int64_t> want_ids;
  std::vector<float> want_sims;
  auto rows_of = [&](const std::vector<std::int64_t>& picks, std::vector<float>& rows, std::vector<std::int64_t>& ids) {
    for (auto x : picks) {
      rows.insert(rows.end(), held_row(x), held_row(x) + d);
      ids.push_back(held_id(x));
    }
  };
  auto run = [](std::int64_t from, std::int64_t n) {
    std::vector<std::int64_t> r(static_cast<std::size_t>(n));
    std::iota(r.begin(), r.end(), from);
    return r;
  };
  {
    std::vector<float> qr, dr;
    std::vector<std::int64_t> qi, di;
    rows_of(q0, qr, qi);
    rows_of(db0, dr, di);
    oracle(qr, qi, dr, di, d, k, want_ids, want_sims);
  }
  {
    std::vector<float> qr;
    std::vector<std::int64_t> qi;
    rows_of(run(190, 60), qr, qi);
    oracle(qr, qi, given, given_ids, d, k, want_ids, want_sims);
  }
  {
    std::vector<float> dr;
    std::vector<std::int64_t> di;
    rows_of(run(100, 500), dr, di);
    const std::vector<float> qr(given.begin(), given.begin() + 25 * d);
    oracle(qr, std::vector<std::int64_t>(25, -7), dr, di, d, k, want_ids, want_sims);
  }
  oracle(std::vector<float>(5 * d), std::vector<std::int64_t>(5, 0), {}, {}, d, k, want_ids, want_sims);

  ASSERT_EQ(got.neighbors.size(), want_ids.size());
  std::int64_t wrong = 0;
  for (std::size_t i = 0; i < want_ids.size(); ++i) {
    const bool same_sim = (std::isnan(got.similarities[i]) && std::isnan(want_sims[i])) || got.similarities[i] == want_sims[i];
    if ((got.neighbors[i] != want_ids[i] || !same_sim) && ++wrong <= 5)
      ADD_FAILURE() << "entry " << i << ": got " << got.neighbors[i] << " (" << got.similarities[i] << "), oracle "
                    << want_ids[i] << " (" << want_sims[i] << ")";
  }
  EXPECT_EQ(wrong, 0);
}

TEST(BlockSearch, FixedPointIsLlroundAndTheSumsAreExact) {
  // to_fixed_point against std::llround on edge values and on floats of every magnitude in [-1, 1].
  std::vector<float> values = {0.0f, -0.0f, 1.0f, -1.0f, 0x1.0p-33f, -0x1.0p-33f, 0x1.8p-33f, 0x1.0p-32f, 0x1.0p-34f,
                               0x1.fffffep-2f, 0.5f, -0.5f, std::numeric_limits<float>::denorm_min()};
  util::CounterRng rng(5, 0, 0);
  for (int i = 0; i < 200000; ++i) {
    const double m = rng.uniform() * 2 - 1;
    values.push_back(static_cast<float>(std::ldexp(m, -static_cast<int>(rng.below(60)))));
  }
  for (const float x : values)
    ASSERT_EQ(knn::to_fixed_point(x), std::llround(static_cast<double>(x) * knn::kFixedPointScale)) << x;

  mpi::Comm comm;
  const std::int64_t d = 10, n = 300;
  const int clusters = 4;
  const auto own = unit_rows(n, d, 9);
  const auto search = knn::make_block_search(KnnBackend::kCpu, comm);
  search->hold_own(own.data(), n, d, GlobalId(0));
  std::vector<std::int64_t> picks;
  std::vector<std::int32_t> cluster;
  for (std::int64_t i = 0; i < n; i += 2) {
    picks.push_back(i);
    cluster.push_back(static_cast<std::int32_t>((i * 7) % clusters));
  }
  std::vector<std::int64_t> sums(static_cast<std::size_t>(clusters * d), 1);  // added to, not overwritten
  search->add_fixed_point_sums(knn::RowSet::held_picks(picks.data(), static_cast<std::int64_t>(picks.size())),
                               cluster.data(), clusters, d, sums.data());
  std::vector<std::int64_t> want(sums.size(), 1);
  for (std::size_t i = 0; i < picks.size(); ++i)
    for (std::int64_t j = 0; j < d; ++j)
      want[cluster[i] * d + j] += std::llround(static_cast<double>(own[picks[i] * d + j]) * 0x1.0p32);
  EXPECT_EQ(sums, want);
}

}  // namespace
}  // namespace weave
