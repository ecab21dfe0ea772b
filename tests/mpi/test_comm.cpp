#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <cstdlib>

#include "mpi/ask_owners.hpp"
#include "mpi/collective_error.hpp"
#include "mpi/comm.hpp"
#include "test_helpers.hpp"

namespace weave {
namespace {

TEST(Comm, ReductionsAndPrefixSums) {
  mpi::Comm comm;
  const int p = comm.size(), r = comm.rank();
  EXPECT_EQ(comm.sum<std::int64_t>(r + 1), std::int64_t{p} * (p + 1) / 2);
  EXPECT_EQ(comm.max(r), p - 1);
  EXPECT_EQ(comm.min(r), 0);
  EXPECT_EQ(comm.exscan_sum<std::int64_t>(r + 1), std::int64_t{r} * (r + 1) / 2);
  const auto all = comm.allgather<double>(r * 0.5);
  ASSERT_EQ(static_cast<int>(all.size()), p);
  for (int i = 0; i < p; ++i) EXPECT_EQ(all[i], i * 0.5);
}

TEST(Comm, TrafficCountsWhatGoesToOtherRanks) {
  mpi::Comm comm;
  const int p = comm.size(), r = comm.rank();
  // Rank r sends r + 1 + t int64s to rank t; nothing to itself counts as traffic.
  std::vector<std::vector<std::int64_t>> send(static_cast<std::size_t>(p));
  double want_sent = 0, want_received = 0;
  std::int64_t want_messages = 0;
  for (int t = 0; t < p; ++t) {
    send[t].assign(static_cast<std::size_t>(r + 1 + t), r);
    if (t == r) continue;
    want_sent += 8.0 * (r + 1 + t);
    want_received += 8.0 * (t + 1 + r);
    ++want_messages;
  }
  const mpi::Traffic before = mpi::traffic();
  comm.alltoallv(send);
  const mpi::Traffic moved = mpi::traffic() - before;
  EXPECT_EQ(moved.bytes_sent, want_sent);
  EXPECT_EQ(moved.bytes_received, want_received);
  EXPECT_EQ(moved.messages_sent, want_messages);
  EXPECT_EQ(moved.collectives, 1);  // the count exchange
  const mpi::Traffic before_sum = mpi::traffic();
  comm.sum<std::int64_t>(1);
  EXPECT_EQ((mpi::traffic() - before_sum).collectives, 1);
  EXPECT_EQ((mpi::traffic() - before_sum).collective_bytes, 8.0);
}

TEST(Comm, AlltoallvDeliversEveryMessageToItsRank) {
  mpi::Comm comm;
  const int p = comm.size(), r = comm.rank();
  std::vector<std::vector<std::int64_t>> send(p);
  for (int to = 0; to < p; ++to)
    for (int k = 0; k < r + to; ++k) send[to].push_back(1000 * r + to);  // uneven sizes, some empty
  const auto got = comm.alltoallv(send);
  for (int from = 0; from < p; ++from) {
    ASSERT_EQ(static_cast<int>(got[from].size()), from + r);
    for (auto v : got[from]) EXPECT_EQ(v, 1000 * from + r);
  }
}

TEST(Comm, AlltoallvInPiecesDeliversTheSame) {
  // Messages cut into pieces of 3 elements (the limit is 2^30 otherwise): the flat and the
  // per-rank forms deliver every element in order.
  mpi::Comm comm;
  const int p = comm.size(), r = comm.rank();
  const auto limit = mpi::Comm::max_piece_elements();
  mpi::Comm::set_max_piece_elements(3);
  std::vector<std::vector<std::int64_t>> send(p);
  std::vector<std::int64_t> flat, counts(p);
  for (int to = 0; to < p; ++to) {
    for (int k = 0; k < 2 * r + to + 5; ++k) send[to].push_back(100000 * r + 100 * to + k);
    flat.insert(flat.end(), send[to].begin(), send[to].end());
    counts[to] = static_cast<std::int64_t>(send[to].size());
  }
  const auto got = comm.alltoallv(send);
  std::vector<std::int64_t> got_counts;
  const auto got_flat = comm.alltoallv_flat(flat, counts, &got_counts);
  mpi::Comm::set_max_piece_elements(limit);
  std::size_t at = 0;
  for (int from = 0; from < p; ++from) {
    ASSERT_EQ(static_cast<int>(got[from].size()), 2 * from + r + 5);
    ASSERT_EQ(got_counts[from], 2 * from + r + 5);
    for (int k = 0; k < 2 * from + r + 5; ++k) {
      EXPECT_EQ(got[from][k], 100000 * from + 100 * r + k);
      EXPECT_EQ(got_flat[at++], 100000 * from + 100 * r + k);
    }
  }
}

TEST(Comm, GatherBroadcastAndReduceInPiecesDeliverTheSame) {
  // Pieces of 3 elements (2^30 otherwise): gatherv, bcast and allreduce_inplace of spans longer
  // than a piece give what one message would.
  mpi::Comm comm;
  const int p = comm.size(), r = comm.rank();
  const auto limit = mpi::Comm::max_piece_elements();
  mpi::Comm::set_max_piece_elements(3);
  std::vector<std::int64_t> mine;
  for (int k = 0; k < 3 * r + 4; ++k) mine.push_back(1000 * r + k);
  const auto gathered = comm.gatherv<std::int64_t>(mine, p - 1);  // the last rank gathers
  std::vector<std::int64_t> broadcast(17, r == 0 ? 0 : -1);
  if (r == 0) std::iota(broadcast.begin(), broadcast.end(), 40);
  comm.bcast(std::span<std::int64_t>(broadcast), 0);
  std::vector<std::int64_t> summed(11);
  for (int k = 0; k < 11; ++k) summed[k] = r * k;
  comm.sum_inplace(std::span<std::int64_t>(summed));
  mpi::Comm::set_max_piece_elements(limit);
  if (r == p - 1) {
    std::vector<std::int64_t> want;
    for (int from = 0; from < p; ++from)
      for (int k = 0; k < 3 * from + 4; ++k) want.push_back(1000 * from + k);
    EXPECT_EQ(gathered, want);
  } else {
    EXPECT_TRUE(gathered.empty());
  }
  for (int k = 0; k < 17; ++k) EXPECT_EQ(broadcast[k], 40 + k);
  for (int k = 0; k < 11; ++k) EXPECT_EQ(summed[k], static_cast<std::int64_t>(k) * p * (p - 1) / 2);
}

TEST(AskOwners, SpreadOverOwnersGivesEveryOwnerItsShareOfEachPrefix) {
  // Ascending keys of owners with 40, 10, 0 and 20 keys, and two keys that go nowhere (-1).
  std::vector<std::int64_t> keys;
  for (int k = 0; k < 40; ++k) keys.push_back(k);
  for (int k = 0; k < 10; ++k) keys.push_back(100 + k);
  for (int k = 0; k < 20; ++k) keys.push_back(300 + k);
  keys.insert(keys.begin() + 5, -1);
  keys.push_back(-2);
  auto owner = [](std::int64_t key) { return key < 0 ? -1 : static_cast<int>(key / 100); };
  const std::vector<std::size_t> order = mpi::spread_over_owners(keys, 4, owner);
  ASSERT_EQ(order.size(), keys.size());
  std::vector<std::size_t> sorted = order;
  std::sort(sorted.begin(), sorted.end());
  for (std::size_t j = 0; j < sorted.size(); ++j) ASSERT_EQ(sorted[j], j) << "not a permutation";
  std::vector<std::int64_t> last(5, -10), seen(5, 0);
  const std::vector<double> total = {40, 10, 0, 20, 2};
  for (std::size_t x = 0; x < order.size(); ++x) {
    const std::int64_t key = keys[order[x]];
    const auto slot = static_cast<std::size_t>(owner(key) < 0 ? 4 : owner(key));
    if (key >= 0) EXPECT_GT(key, last[slot]) << "an owner's keys in their given order";
    last[slot] = key;
    ++seen[slot];
    // Every prefix holds each owner's share: at most one key more, and at most m c / K fewer (m = 4
    // owners with keys, c of K keys its own). Ascending order would give owner 0 all of the first 40.
    const double share = static_cast<double>(x + 1) / static_cast<double>(keys.size());
    for (std::size_t o = 0; o < 5; ++o) {
      const double off = static_cast<double>(seen[o]) - share * total[o];
      EXPECT_LE(off, 1.0 + 1e-9) << "prefix " << x + 1 << ", owner " << o;
      EXPECT_GE(off, -4.0 * total[o] / static_cast<double>(keys.size()) - 1e-9) << "prefix " << x + 1 << ", owner " << o;
    }
  }
  // One owner only: the given order.
  const std::vector<std::int64_t> one = {7, 3, 9};
  EXPECT_EQ(mpi::spread_over_owners(one, 4, owner), (std::vector<std::size_t>{0, 1, 2}));
}

TEST(AskOwners, InRoundsAnswersAsOneExchangeDoes) {
  mpi::Comm comm;
  const int p = comm.size();
  const std::int64_t n = 1000;
  auto owner = [&](std::int64_t key) { return key < 0 ? -1 : static_cast<int>(key * p / n); };
  auto answer = [&](std::int64_t key, std::int64_t* out) {
    ASSERT_EQ(owner(key), comm.rank()) << "asked a rank that does not own the key";
    out[0] = key * 3 + 1, out[1] = key % 97;
  };
  // Ascending keys (one run per owner: a share of each run per round) with a repeat and keys that
  // go nowhere at the end, a different number on each rank; then a key that goes nowhere in the
  // middle of owner 0's run and a key of the last owner first (contiguous slices).
  std::vector<std::int64_t> keys;
  for (std::int64_t k = 0; k < n; k += 3 + comm.rank()) keys.push_back(k);
  keys.insert(keys.begin() + 10, keys[10]);
  keys.insert(keys.end(), {-1, -5});
  for (int layout = 0; layout < 2; ++layout) {
    if (layout == 1) {
      keys.insert(keys.begin() + 3, -1);
      keys.insert(keys.begin(), n - 1);
    }
    const auto once = mpi::ask_owners<std::int64_t>(comm, keys, 2, owner, answer);
    for (std::int64_t per_round : {1, 7, 50, 100000}) {
      const auto rounds = mpi::ask_owners_in_rounds<std::int64_t>(comm, keys, 2, owner, answer, per_round);
      ASSERT_EQ(rounds.size(), once.size());
      for (std::size_t j = 0; j < keys.size(); ++j) {
        const std::int64_t want0 = keys[j] < 0 ? 0 : keys[j] * 3 + 1, want1 = keys[j] < 0 ? 0 : keys[j] % 97;
        ASSERT_EQ(once[2 * j], want0);
        ASSERT_EQ(rounds[2 * j], want0) << "key " << keys[j] << ", " << per_round << " a round";
        ASSERT_EQ(rounds[2 * j + 1], want1) << "key " << keys[j] << ", " << per_round << " a round";
      }
    }
  }
}

TEST(Comm, NodeRankAndSizeOnOneMachine) {
  // The tests run on one machine: every rank shares its node, with a distinct place on it (the GPU
  // backend picks its GPU by it).
  mpi::Comm comm;
  const auto [local_rank, local_size] = comm.node_rank_and_size();
  EXPECT_EQ(local_size, comm.size());
  const auto places = comm.allgather<int>(local_rank);
  std::vector<int> sorted(places.begin(), places.end());
  std::sort(sorted.begin(), sorted.end());
  for (int r = 0; r < comm.size(); ++r) EXPECT_EQ(sorted[r], r);
  EXPECT_FALSE(mpi::Comm::processor_name().empty());
}

TEST(Comm, BroadcastsStringsAndGathers) {
  mpi::Comm comm;
  const auto v = comm.bcast_strings(comm.is_root() ? std::vector<std::string>{"a", "", "ccc"} : std::vector<std::string>{}, 0);
  EXPECT_EQ(v, (std::vector<std::string>{"a", "", "ccc"}));
  std::vector<int> mine(static_cast<std::size_t>(comm.rank()), comm.rank());
  const auto all = testing::allgather_concat(comm, mine);
  std::vector<int> expected;
  for (int r = 0; r < comm.size(); ++r) expected.insert(expected.end(), static_cast<std::size_t>(r), r);
  EXPECT_EQ(all, expected);
}

TEST(Comm, SplitMakesSubCommunicators) {
  mpi::Comm comm;
  const mpi::Comm evens = comm.split(comm.rank() % 2 == 0 ? 0 : mpi::Comm::kNoColor);
  if (comm.rank() % 2 == 0) {
    ASSERT_FALSE(evens.is_null());
    EXPECT_EQ(evens.rank(), comm.rank() / 2);
    EXPECT_EQ(evens.size(), (comm.size() + 1) / 2);
  } else {
    EXPECT_TRUE(evens.is_null());
  }
}

TEST(CollectiveError, NoErrorMeansEveryRankContinues) {
  mpi::Comm comm;
  EXPECT_NO_THROW(mpi::collectively(comm, [] {}));
}

TEST(CollectiveError, OneFailingRankMakesEveryRankThrowItsMessage) {
  mpi::Comm comm;
  const int bad = comm.size() - 1;
  try {
    mpi::collectively(comm, [&] {
      if (comm.rank() == bad) throw UserError("only the last rank saw this");
    });
    FAIL() << "expected a UserError on every rank";
  } catch (const UserError& e) {
    EXPECT_STREQ(e.what(), "only the last rank saw this");
    EXPECT_TRUE(e.collective());
  }
}

TEST(CollectiveError, TheSmallestKeyWinsWhateverTheRankCount) {
  mpi::Comm comm;
  // Every rank fails, with key = 100 - rank: the last rank's error is the one reported.
  try {
    mpi::collectively(comm, [&] { throw UserError("row " + std::to_string(100 - comm.rank()), 100 - comm.rank()); });
    FAIL() << "expected a UserError";
  } catch (const UserError& e) {
    EXPECT_EQ(std::string(e.what()), "row " + std::to_string(100 - (comm.size() - 1)));
    EXPECT_EQ(e.order_key(), 100 - (comm.size() - 1));
  }
}

TEST(CollectiveError, OtherExceptionsBecomeInternalErrorsEverywhere) {
  mpi::Comm comm;
  EXPECT_THROW(mpi::collectively(comm, [&] {
                 if (comm.is_root()) throw std::runtime_error("boom");
               }),
               InternalError);
}

}  // namespace
}  // namespace weave
