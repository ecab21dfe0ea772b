#include "knn/ivf/ivf_search.hpp"

#include <algorithm>
#include <chrono>
#include <limits>
#include <optional>

#include <omp.h>

#include "knn/ivf/cluster_plan.hpp"
#include "knn/ivf/kmeans.hpp"
#include "knn/ivf/recall_sample.hpp"
#include "util/progress.hpp"
#include "util/report.hpp"

namespace weave::knn::ivf {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

enum Role : std::int64_t { kMember = 0, kQuery = 1 };

/// Where each own row goes: its cluster and piece as a member, its probed clusters and pieces as a
/// query (row l probes clusters[offsets[l] .. offsets[l + 1]), nearest first; the first is its own).
struct Routes {
  std::vector<std::int64_t> offsets;
  std::vector<std::int32_t> clusters;
  std::vector<std::int32_t> member_piece;  ///< rows
  std::vector<std::int32_t> query_piece;   ///< aligned with clusters
};

/// Each row probes its `probe` nearest clusters (`nearest`, rows x probe), and more (up to
/// kExtraProbes, nearest first) while they hold fewer than k + 1 members, so no list comes out short
/// because its clusters are tiny. Only those few rows are searched against the centroids again.
Routes probed_clusters(const RowBlock& own, const Centroids& centroids, const std::vector<std::int32_t>& nearest,
                       int probe, const std::vector<std::int64_t>& members, int k, BlockSearch& search) {
  std::vector<std::int64_t> short_rows;
  for (std::int64_t l = 0; l < own.count && probe < centroids.count; ++l) {
    std::int64_t held = 0;
    for (int j = 0; j < probe; ++j) held += members[nearest[l * probe + j]];
    if (held < k + 1) short_rows.push_back(l);
  }
  const int width = std::min(centroids.count, probe + kExtraProbes);
  const auto wide = short_rows.empty()
                        ? std::vector<std::int32_t>{}
                        : nearest_centroids(RowSet::held_picks(short_rows.data(), static_cast<std::int64_t>(short_rows.size())),
                                            centroids, width, search);
  Routes routes;
  routes.offsets.assign(1, 0);
  std::size_t next_short = 0;
  for (std::int64_t l = 0; l < own.count; ++l) {
    if (next_short < short_rows.size() && short_rows[next_short] == l) {
      const std::int32_t* list = wide.data() + next_short++ * width;
      routes.clusters.insert(routes.clusters.end(), list, list + probes_needed(list, width, probe, members, k));
    } else {
      routes.clusters.insert(routes.clusters.end(), nearest.begin() + l * probe, nearest.begin() + (l + 1) * probe);
    }
    routes.offsets.push_back(static_cast<std::int64_t>(routes.clusters.size()));
  }
  return routes;
}

/// Global member and query counts per cluster, the plan, and each own row's pieces (its position in
/// the cluster, by global id, over the piece size).
ClusterPlan plan_and_route(const mpi::Comm& comm, std::int64_t own, int clusters, std::int64_t round_rows,
                           Routes& routes) {
  std::vector<std::int64_t> counts(static_cast<std::size_t>(2 * clusters), 0);  // members, then queries
  for (std::int64_t l = 0; l < own; ++l) {
    ++counts[routes.clusters[routes.offsets[l]]];
    for (std::int64_t j = routes.offsets[l]; j < routes.offsets[l + 1]; ++j) ++counts[clusters + routes.clusters[j]];
  }
  std::vector<std::int64_t> before = counts;  // rows of each cluster on lower ranks (lower ids)
  comm.exscan_sum_inplace(std::span<std::int64_t>(before));
  comm.sum_inplace(std::span<std::int64_t>(counts));
  ClusterPlan plan = plan_clusters({counts.begin(), counts.begin() + clusters}, {counts.begin() + clusters, counts.end()},
                                   comm.size(), round_rows);
  routes.member_piece.resize(static_cast<std::size_t>(own));
  routes.query_piece.resize(routes.clusters.size());
  for (std::int64_t l = 0; l < own; ++l) {
    const std::int32_t c = routes.clusters[routes.offsets[l]];
    routes.member_piece[l] = static_cast<std::int32_t>(before[c]++ / plan.member_piece_rows[c]);
    for (std::int64_t j = routes.offsets[l]; j < routes.offsets[l + 1]; ++j) {
      const std::int32_t q = routes.clusters[j];
      // A cluster without members has no pieces (nothing to search there).
      const std::int64_t piece_rows = std::max<std::int64_t>(1, plan.query_piece_rows[q]);
      routes.query_piece[j] = static_cast<std::int32_t>(before[clusters + q]++ / piece_rows);
    }
  }
  return plan;
}

/// The k-lists of the own rows, merged from the sorted lists of the units that searched them
/// (disjoint candidates: a row is a member of one piece of each unit's cluster). Most rows get
/// one list in all, copied as it is; a second one is merged in (similarity desc, id asc), the
/// k best kept. The same lists as offering every candidate to a TopK, without its heap and sort.
class MergedLists {
 public:
  MergedLists(std::int64_t rows, int k)
      : k_(k), ids_(static_cast<std::size_t>(rows * k), -1),
        sims_(ids_.size(), std::numeric_limits<float>::quiet_NaN()) {}

  /// What a merge works in: k entries (one per thread merging).
  struct Scratch {
    std::vector<std::int64_t> ids;
    std::vector<float> sims;
  };
  Scratch scratch() const { return {std::vector<std::int64_t>(k_), std::vector<float>(k_)}; }

  /// Merges n <= k entries (best first) into row l's list.
  void merge(std::int64_t l, const std::int64_t* ids, const float* sims, int n, Scratch& scratch) {
    std::int64_t* a_ids = ids_.data() + l * k_;
    float* a_sims = sims_.data() + l * k_;
    if (a_ids[0] < 0) {
      std::copy_n(ids, n, a_ids);
      std::copy_n(sims, n, a_sims);
      return;
    }
    int i = 0, j = 0, out = 0;
    while (out < k_) {
      const bool a = i < k_ && a_ids[i] >= 0;
      const bool b = j < n;
      if (!a && !b) break;
      const bool take_a = a && (!b || a_sims[i] > sims[j] || (a_sims[i] == sims[j] && a_ids[i] < ids[j]));
      scratch.ids[out] = take_a ? a_ids[i] : ids[j];
      scratch.sims[out++] = take_a ? a_sims[i++] : sims[j++];
    }
    std::copy_n(scratch.ids.begin(), out, a_ids);
    std::copy_n(scratch.sims.begin(), out, a_sims);
  }

  KnnLists take() {
    KnnLists lists;
    lists.k = k_;
    lists.neighbors = std::move(ids_);
    lists.similarities = std::move(sims_);
    return lists;
  }

 private:
  int k_;
  std::vector<std::int64_t> ids_;
  std::vector<float> sims_;
};

/// What the rounds of this rank did: times of the phases, rows moved, pairs scored.
struct RoundStats {
  double shuffle_seconds = 0, search_seconds = 0, merge_seconds = 0;
  double unit_search_seconds = 0;  ///< of search_seconds: in BlockSearch::search_units
  double rows_sent = 0;    ///< to other ranks
  double rows_routed = 0;  ///< every copy of a row a unit searches (sent or kept on this rank)
  double rows_received = 0, largest_round_rows = 0, pairs = 0;
};

class RoundRunner {
 public:
  RoundRunner(const mpi::Comm& comm, const RowBlock& own, std::int64_t dim, int k, const ClusterPlan& plan,
              const Routes& routes, BlockSearch& search)
      : comm_(comm), own_(own), dim_(dim), k_(k), plan_(plan), routes_(routes), search_(search), merged_(own.count, k),
        owner_first_(comm.allgather<std::int64_t>(own.first.value)) {
    slot_.resize(static_cast<std::size_t>(plan.units()));
    for (std::int64_t u = 0; u < plan.units(); ++u)
      slot_[u] = static_cast<std::int64_t>(plan.unit_round[u]) * comm.size() + plan.unit_rank[u];
    // Every copy of an own row, by round (a counting sort): a round visits its own copies only, not
    // every row again (10^7 rows in 57 rounds of 1 GiB would be 57 passes over all of them).
    round_begin_.assign(static_cast<std::size_t>(plan.rounds + 1), 0);
    for_each_route([&](std::int64_t, std::int64_t u, Role) { ++round_begin_[plan_.unit_round[u] + 1]; });
    for (int r = 0; r < plan.rounds; ++r) round_begin_[r + 1] += round_begin_[r];
    route_row_.resize(static_cast<std::size_t>(round_begin_.back()));
    route_tag_.resize(route_row_.size());
    auto fill = round_begin_;
    for_each_route([&](std::int64_t l, std::int64_t u, Role role) {
      const std::int64_t at = fill[plan_.unit_round[u]]++;
      route_row_[at] = l;
      route_tag_[at] = 2 * u + role;
    });
  }

  void run(int round, RoundStats& stats, util::Progress& progress) {
    const int p = comm_.size();
    const int me = comm_.rank();
    auto t0 = Clock::now();
    // Rows routed to other ranks are sent (two passes: count per destination, then copy into
    // place); rows routed to this rank stay where they are, held by the search, and only their
    // (row, tag) is kept.
    const std::int64_t r0 = round_begin_[round], r1 = round_begin_[round + 1];
    std::vector<std::int64_t> count(static_cast<std::size_t>(p), 0);
    for (std::int64_t x = r0; x < r1; ++x) ++count[plan_.unit_rank[route_tag_[x] / 2]];
    count[me] = 0;
    std::vector<std::int64_t> row_at(static_cast<std::size_t>(p), 0), send_floats(static_cast<std::size_t>(p));
    std::int64_t sent = 0;
    send_meta_.resize(p);
    for (int r = 0; r < p; ++r) {
      send_meta_[r].resize(static_cast<std::size_t>(2 * count[r]));
      row_at[r] = sent;
      send_floats[r] = count[r] * dim_;
      sent += count[r];
      count[r] = 0;
    }
    send_rows_.resize(static_cast<std::size_t>(sent * dim_));
    kept_.clear();
    for (std::int64_t x = r0; x < r1; ++x) {
      const std::int64_t l = route_row_[x], tag = route_tag_[x];
      const int to = plan_.unit_rank[tag / 2];
      if (to == me) {
        kept_.push_back({l, tag});
        continue;
      }
      const std::int64_t at = count[to]++;
      send_meta_[to][2 * at] = own_.first.value + l;
      send_meta_[to][2 * at + 1] = tag;
      std::copy_n(own_.rows + l * dim_, dim_, send_rows_.begin() + (row_at[to] + at) * dim_);
    }
    comm_.alltoallv_into(send_meta_, got_meta_);
    std::vector<std::int64_t> received_floats;
    got_rows_ = comm_.alltoallv_flat(send_rows_, send_floats, &received_floats);
    got_ids_.clear();
    for (int r = 0; r < p; ++r)
      for (std::size_t i = 0; i < got_meta_[r].size(); i += 2) got_ids_.push_back(got_meta_[r][i]);
    const auto from_others = static_cast<std::int64_t>(got_ids_.size());
    search_.hold_extra(got_rows_.data(), got_ids_.data(), from_others);
    stats.rows_sent += static_cast<double>(sent);
    stats.rows_routed += static_cast<double>(sent) + static_cast<double>(kept_.size());
    stats.shuffle_seconds += seconds_since(t0);

    // This rank's units of the round are consecutive (units are dealt to slots in order).
    t0 = Clock::now();
    const std::int64_t my_slot = static_cast<std::int64_t>(round) * p + me;
    const std::int64_t u0 = std::lower_bound(slot_.begin(), slot_.end(), my_slot) - slot_.begin();
    const std::int64_t u1 = std::upper_bound(slot_.begin(), slot_.end(), my_slot) - slot_.begin();
    // The held row of every copy (an own row, or received row i at own.count + i) and its id, by
    // unit and role (a counting sort by tag).
    std::vector<std::int64_t> offsets(static_cast<std::size_t>(2 * (u1 - u0) + 1), 0);
    for (const auto& [l, tag] : kept_) ++offsets[tag - 2 * u0 + 1];
    for (int r = 0; r < p; ++r)
      for (std::size_t i = 1; i < got_meta_[r].size(); i += 2) ++offsets[got_meta_[r][i] - 2 * u0 + 1];
    for (std::size_t i = 1; i < offsets.size(); ++i) offsets[i] += offsets[i - 1];
    const std::int64_t received = offsets.back();
    picks_.resize(static_cast<std::size_t>(received));
    pick_ids_.resize(static_cast<std::size_t>(received));
    {
      auto fill = offsets;
      for (const auto& [l, tag] : kept_) {
        const std::int64_t at = fill[tag - 2 * u0]++;
        picks_[at] = l;
        pick_ids_[at] = own_.first.value + l;
      }
      std::int64_t i = 0;
      for (int r = 0; r < p; ++r)
        for (std::size_t m = 0; m < got_meta_[r].size(); m += 2, ++i) {
          const std::int64_t at = fill[got_meta_[r][m + 1] - 2 * u0]++;
          picks_[at] = own_.count + i;
          pick_ids_[at] = got_meta_[r][m];
        }
    }
    stats.rows_received += static_cast<double>(received);
    stats.largest_round_rows = std::max(stats.largest_round_rows, static_cast<double>(received));

    units_.clear();
    std::int64_t pairs = 0;
    for (std::int64_t u = u0; u < u1; ++u) {
      const std::int64_t m0 = offsets[2 * (u - u0) + kMember], m1 = offsets[2 * (u - u0) + kMember + 1];
      const std::int64_t q0 = offsets[2 * (u - u0) + kQuery], q1 = offsets[2 * (u - u0) + kQuery + 1];
      units_.push_back({RowSet::held_picks(picks_.data() + q0, q1 - q0), RowSet::held_picks(picks_.data() + m0, m1 - m0)});
      pairs += (q1 - q0) * (m1 - m0);
    }
    const auto t_units = Clock::now();
    search_.search_units(units_, dim_, k_, lists_);
    stats.unit_search_seconds += seconds_since(t_units);
    stats.pairs += static_cast<double>(pairs);
    stats.search_seconds += seconds_since(t0);

    // The lists, query after query of each unit, merged into the own queries' lists here and sent
    // to the owners of the others.
    t0 = Clock::now();
    for (auto& v : result_ids_) v.clear();
    for (auto& v : result_sims_) v.clear();
    result_ids_.resize(p);
    result_sims_.resize(p);
    // Own queries: (list row, own row), merged below on all threads, each thread the own rows of
    // its residue (a row's lists are merged in this order whatever the thread count).
    local_.clear();
    std::int64_t row = 0;
    for (std::int64_t u = u0; u < u1; ++u)
      for (std::int64_t x = offsets[2 * (u - u0) + kQuery]; x < offsets[2 * (u - u0) + kQuery + 1]; ++x, ++row) {
        const std::int64_t query = pick_ids_[x];
        const std::int64_t* ids = lists_.neighbors.data() + row * k_;
        const float* sims = lists_.similarities.data() + row * k_;
        const std::int64_t local = query - own_.first.value;
        if (local >= 0 && local < own_.count) {
          local_.push_back({row, local});
          continue;
        }
        int n = 0;
        while (n < k_ && ids[n] >= 0) ++n;
        if (n == 0) continue;
        const int to = owner_of(query);
        result_ids_[to].insert(result_ids_[to].end(), {query, static_cast<std::int64_t>(n)});
        result_ids_[to].insert(result_ids_[to].end(), ids, ids + n);
        result_sims_[to].insert(result_sims_[to].end(), sims, sims + n);
      }
#pragma omp parallel
    {
      auto scratch = merged_.scratch();
      const int threads = omp_get_num_threads(), thread = omp_get_thread_num();
      for (const auto& [list_row, local] : local_) {
        if (local % threads != thread) continue;
        const std::int64_t* ids = lists_.neighbors.data() + list_row * k_;
        int n = 0;
        while (n < k_ && ids[n] >= 0) ++n;
        if (n > 0) merged_.merge(local, ids, lists_.similarities.data() + list_row * k_, n, scratch);
      }
    }
    comm_.alltoallv_into(result_ids_, got_result_ids_);
    comm_.alltoallv_into(result_sims_, got_sims_);
    // Each list as it was sent: (query, n, n ids), n similarities.
    auto scratch = merged_.scratch();
    for (int r = 0; r < p; ++r)
      for (std::size_t at = 0, sim_at = 0; at < got_result_ids_[r].size();) {
        const std::int64_t query = got_result_ids_[r][at];
        const auto n = static_cast<int>(got_result_ids_[r][at + 1]);
        merged_.merge(query - own_.first.value, got_result_ids_[r].data() + at + 2, got_sims_[r].data() + sim_at, n, scratch);
        at += 2 + static_cast<std::size_t>(n);
        sim_at += static_cast<std::size_t>(n);
      }
    stats.merge_seconds += seconds_since(t0);
    progress.advance(pairs);
  }

  /// fn(own row, unit, role) for every copy of an own row that a unit searches.
  template <typename Fn>
  void for_each_route(Fn&& route) const {
    for (std::int64_t l = 0; l < own_.count; ++l) {
      const std::int32_t c = routes_.clusters[routes_.offsets[l]];
      for (std::int64_t j = 0; j < plan_.query_pieces[c]; ++j) route(l, plan_.unit(c, j, routes_.member_piece[l]), kMember);
      for (std::int64_t x = routes_.offsets[l]; x < routes_.offsets[l + 1]; ++x) {
        const std::int32_t q = routes_.clusters[x];
        for (std::int64_t i = 0; i < plan_.member_pieces[q]; ++i) route(l, plan_.unit(q, routes_.query_piece[x], i), kQuery);
      }
    }
  }

  KnnLists finish() { return merged_.take(); }

 private:
  int owner_of(std::int64_t id) const {
    return static_cast<int>(std::upper_bound(owner_first_.begin(), owner_first_.end(), id) - owner_first_.begin()) - 1;
  }
  const mpi::Comm& comm_;
  const RowBlock& own_;
  std::int64_t dim_;
  int k_;
  const ClusterPlan& plan_;
  const Routes& routes_;
  BlockSearch& search_;
  MergedLists merged_;
  std::vector<std::int64_t> owner_first_;
  std::vector<std::int64_t> slot_;
  std::vector<std::int64_t> round_begin_;          ///< rounds + 1: the copies of round r are [r, r + 1)
  std::vector<std::int64_t> route_row_, route_tag_;  ///< per copy: the own row, 2 x unit + role
  KnnLists lists_;
  // Buffers reused over rounds.
  std::vector<std::vector<std::int64_t>> send_meta_, got_meta_, result_ids_, got_result_ids_;
  std::vector<std::vector<float>> result_sims_, got_sims_;
  util::UninitVector<float> send_rows_, got_rows_;  // written in full after each resize
  std::vector<std::int64_t> got_ids_, picks_, pick_ids_;
  std::vector<std::pair<std::int64_t, std::int64_t>> kept_;  ///< (own row, tag) of the routes to this rank
  std::vector<std::pair<std::int64_t, std::int64_t>> local_;  ///< (list row, own row) of the own queries
  std::vector<SearchUnit> units_;
};

}  // namespace

std::vector<int> probe_levels(int clusters, int also) {
  std::vector<int> levels;
  for (int base = 1; base < clusters; base *= 2) {
    levels.push_back(base);
    if (base >= 2 && base + base / 2 < clusters) levels.push_back(base + base / 2);
  }
  levels.push_back(clusters);
  if (also > 0) levels.push_back(std::min(also, clusters));
  std::sort(levels.begin(), levels.end());
  levels.erase(std::unique(levels.begin(), levels.end()), levels.end());
  return levels;
}

IvfResult ivf_knn(const mpi::Comm& comm, const RowBlock& own, std::int64_t dim, std::int64_t total,
                  const IvfOptions& options, BlockSearch& search, bool quiet, util::Report& report) {
  IvfResult result;
  auto t0 = Clock::now();
  search.hold_own(own.rows, own.count, dim, own.first);  // every search below picks from them
  report.add_counter("hold_seconds", seconds_since(t0));
  t0 = Clock::now();
  KmeansStats kmeans;
  const Centroids centroids = train_centroids(
      comm, own, dim, total, {options.clusters, options.train_sample, options.train_iterations, options.seed}, search,
      kmeans);
  report.add_counter("train_seconds", seconds_since(t0));

  // Each row's cluster, and the global member counts (a row probes more clusters while its
  // probed ones hold fewer than k + 1 members).
  t0 = Clock::now();
  const RowSet own_rows = RowSet::held_run(0, own.count);
  const auto primary = nearest_centroids(own_rows, centroids, 1, search);
  std::vector<std::int64_t> members(static_cast<std::size_t>(options.clusters), 0);
  for (const std::int32_t c : primary) ++members[c];
  comm.sum_inplace(std::span<std::int64_t>(members));
  double assign_seconds = seconds_since(t0);

  // The recall sample, and the probe count if it is to choose it.
  std::optional<RecallSample> sample;
  int probe = options.probe;
  if (options.recall_sample > 0) {
    t0 = Clock::now();
    sample.emplace(comm, own, dim, total, options.recall_sample, options.seed, options.k);
    result.probe_levels = probe_levels(options.clusters, options.probe);
    result.recall_by_probe = sample->recall_by_probe(result.probe_levels, primary, members, centroids, search,
                                                     options.target_recall, options.probe);
    if (probe == 0) {
      probe = options.clusters;
      for (std::size_t i = 0; i < result.probe_levels.size(); ++i)
        if (result.recall_by_probe[i] >= options.target_recall) {
          probe = result.probe_levels[i];
          break;
        }
    }
    result.recall_queries = sample->size();
    report.add_counter("recall_sample_seconds", seconds_since(t0));
  }
  result.probe = probe;

  t0 = Clock::now();
  Routes routes = probed_clusters(own, centroids, probe == 1 ? primary : nearest_centroids(own_rows, centroids, probe, search),
                                  probe, members, options.k, search);
  const ClusterPlan plan = plan_and_route(comm, own.count, options.clusters, options.round_rows, routes);
  assign_seconds += seconds_since(t0);
  report.add_counter("assign_seconds", assign_seconds);
  report.add_counter("extra_probes", static_cast<double>(routes.clusters.size() - own.count * probe));

  t0 = Clock::now();
  RoundRunner runner(comm, own, dim, options.k, plan, routes, search);
  report.add_counter("routes_seconds", seconds_since(t0));
  RoundStats stats;
  util::Progress progress(comm, "knn ivf", static_cast<std::int64_t>(plan.pairs()), "pairs", quiet);
  for (int round = 0; round < plan.rounds; ++round) runner.run(round, stats, progress);
  progress.finish();
  result.lists = runner.finish();
  t0 = Clock::now();
  search.release_held();
  if (sample) result.recall = sample->measure(result.lists);
  report.add_counter("measure_seconds", seconds_since(t0));

  // Report: per-rank counters, then figures of the whole search.
  report.add_counter("shuffle_seconds", stats.shuffle_seconds);
  report.add_counter("search_seconds", stats.search_seconds);
  report.add_counter("unit_search_seconds", stats.unit_search_seconds);
  report.add_counter("merge_seconds", stats.merge_seconds);
  report.add_counter("rows_shuffled", stats.rows_sent);
  report.add_counter("rows_routed", stats.rows_routed);
  report.add_counter("bytes_shuffled", stats.rows_sent * static_cast<double>(dim * 4 + 16));
  report.add_counter("largest_round_rows_received", stats.largest_round_rows);
  report.add_counter("pairs_scored", stats.pairs);
  report.add_counter("rescored_pairs", search.rescored_pairs());
  std::int64_t smallest = total, largest = 0, split = 0;
  for (std::size_t c = 0; c < plan.members.size(); ++c) {
    smallest = std::min(smallest, plan.members[c]);
    largest = std::max(largest, plan.members[c]);
    split += plan.member_pieces[c] * plan.query_pieces[c] > 1 ? 1 : 0;
  }
  result.centroids = centroids.rows;
  result.rounds = plan.rounds;
  result.clusters_split = split;
  result.pairs_fraction = plan.pairs() / (static_cast<double>(total) * static_cast<double>(total));
  report.set_figure("ivf_clusters", options.clusters);
  report.set_figure("ivf_probe", probe);
  report.set_figure("ivf_train_sample", kmeans.sample);
  report.set_figure("ivf_train_iterations", kmeans.iterations);
  report.set_figure("ivf_train_mean_similarity", kmeans.mean_similarity);
  report.set_figure("ivf_empty_clusters_split", kmeans.empty_clusters_split);
  report.set_figure("cluster_size_min", smallest);
  report.set_figure("cluster_size_mean", static_cast<double>(total) / options.clusters);
  report.set_figure("cluster_size_max", largest);
  report.set_figure("clusters_split", split);
  report.set_figure("ivf_units", plan.units());
  report.set_figure("ivf_rounds", plan.rounds);
  report.set_figure("pairs_fraction", result.pairs_fraction);
  if (sample) {
    report.set_figure("recall_at_k", result.recall);
    report.set_figure("recall_queries", result.recall_queries);
    nlohmann::json curve = nlohmann::json::array();
    for (std::size_t i = 0; i < result.probe_levels.size(); ++i)
      curve.push_back({{"probe", result.probe_levels[i]}, {"recall_at_k", result.recall_by_probe[i]}});
    report.set_figure("recall_by_probe", curve);
  }
  return result;
}

}  // namespace weave::knn::ivf
