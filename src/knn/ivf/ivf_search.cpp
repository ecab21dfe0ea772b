#include "knn/ivf/ivf_search.hpp"

#include <algorithm>
#include <chrono>
#include <optional>

#include "knn/ivf/cluster_plan.hpp"
#include "knn/ivf/kmeans.hpp"
#include "knn/ivf/recall_sample.hpp"
#include "knn/topk.hpp"
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
  std::vector<float> rows;
  for (std::int64_t l = 0; l < own.count && probe < centroids.count; ++l) {
    std::int64_t held = 0;
    for (int j = 0; j < probe; ++j) held += members[nearest[l * probe + j]];
    if (held >= k + 1) continue;
    short_rows.push_back(l);
    rows.insert(rows.end(), own.rows + l * centroids.dim, own.rows + (l + 1) * centroids.dim);
  }
  const int width = std::min(centroids.count, probe + kExtraProbes);
  const auto wide = short_rows.empty() ? std::vector<std::int32_t>{}
                                       : nearest_centroids(RowBlock{rows.data(), static_cast<std::int64_t>(short_rows.size()),
                                                                    GlobalId(0)},
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

/// The searches of one round on this rank: rows received per unit, searched unit by unit.
struct RoundStats {
  double shuffle_seconds = 0, search_seconds = 0, merge_seconds = 0;
  double rows_sent = 0, rows_received = 0, largest_round_rows = 0, pairs = 0;
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
  }

  void run(int round, RoundStats& stats, util::Progress& progress) {
    const int p = comm_.size();
    auto t0 = Clock::now();
    // Two passes over the routes of this round: count per destination, then copy into place (no
    // reallocation of the buffers, which hold up to every own row probe + 1 times).
    std::vector<std::int64_t> count(static_cast<std::size_t>(p), 0);
    for_each_route(round, [&](std::int64_t, int to, std::int64_t) { ++count[to]; });
    send_meta_.resize(p);
    send_rows_.resize(p);
    for (int r = 0; r < p; ++r) {
      send_meta_[r].resize(static_cast<std::size_t>(2 * count[r]));
      send_rows_[r].resize(static_cast<std::size_t>(count[r] * dim_));
      stats.rows_sent += static_cast<double>(count[r]);
      count[r] = 0;
    }
    for_each_route(round, [&](std::int64_t l, int to, std::int64_t tag) {
      const std::int64_t at = count[to]++;
      send_meta_[to][2 * at] = own_.first.value + l;
      send_meta_[to][2 * at + 1] = tag;
      std::copy_n(own_.rows + l * dim_, dim_, send_rows_[to].begin() + at * dim_);
    });
    comm_.alltoallv_into(send_meta_, got_meta_);
    comm_.alltoallv_into(send_rows_, got_rows_);
    stats.shuffle_seconds += seconds_since(t0);

    // This rank's units of the round are consecutive (units are dealt to slots in order).
    t0 = Clock::now();
    const std::int64_t my_slot = static_cast<std::int64_t>(round) * p + comm_.rank();
    const std::int64_t u0 = std::lower_bound(slot_.begin(), slot_.end(), my_slot) - slot_.begin();
    const std::int64_t u1 = std::upper_bound(slot_.begin(), slot_.end(), my_slot) - slot_.begin();
    // (source, index) of every received row, by unit and role.
    std::vector<std::int64_t> offsets(static_cast<std::size_t>(2 * (u1 - u0) + 1), 0);
    std::int64_t received = 0;
    for (int r = 0; r < p; ++r)
      for (std::size_t i = 1; i < got_meta_[r].size(); i += 2) {
        ++offsets[got_meta_[r][i] - 2 * u0 + 1];
        ++received;
      }
    for (std::size_t i = 1; i < offsets.size(); ++i) offsets[i] += offsets[i - 1];
    std::vector<std::pair<int, std::int64_t>> where(static_cast<std::size_t>(received));
    {
      auto fill = offsets;
      for (int r = 0; r < p; ++r)
        for (std::size_t i = 0; i < got_meta_[r].size(); i += 2) where[fill[got_meta_[r][i + 1] - 2 * u0]++] = {r, static_cast<std::int64_t>(i / 2)};
    }
    stats.rows_received += static_cast<double>(received);
    stats.largest_round_rows = std::max(stats.largest_round_rows, static_cast<double>(received));

    for (auto& v : result_ids_) v.clear();
    for (auto& v : result_sims_) v.clear();
    result_ids_.resize(p);
    result_sims_.resize(p);
    std::int64_t pairs = 0;
    for (std::int64_t u = u0; u < u1; ++u) {
      const std::int64_t m0 = offsets[2 * (u - u0) + kMember], m1 = offsets[2 * (u - u0) + kMember + 1];
      const std::int64_t q0 = offsets[2 * (u - u0) + kQuery], q1 = offsets[2 * (u - u0) + kQuery + 1];
      gather(where, m0, m1, member_rows_, member_ids_);
      gather(where, q0, q1, query_rows_, query_ids_);
      const std::int64_t nm = m1 - m0, nq = q1 - q0;
      search_.search(RowSet{query_rows_.data(), query_ids_.data(), nq},
                     RowSet{member_rows_.data(), member_ids_.data(), nm}, dim_, k_, lists_);
      pairs += nq * nm;
      const auto& list_ids_ = lists_.neighbors;
      const auto& list_sims_ = lists_.similarities;
      for (std::int64_t q = 0; q < nq; ++q) {
        const int to = owner_of(query_ids_[q]);
        for (int j = 0; j < k_ && list_ids_[q * k_ + j] >= 0; ++j) {
          result_ids_[to].insert(result_ids_[to].end(), {query_ids_[q], list_ids_[q * k_ + j]});
          result_sims_[to].push_back(list_sims_[q * k_ + j]);
        }
      }
    }
    stats.pairs += static_cast<double>(pairs);
    stats.search_seconds += seconds_since(t0);

    t0 = Clock::now();
    comm_.alltoallv_into(result_ids_, got_ids_);
    comm_.alltoallv_into(result_sims_, got_sims_);
    for (int r = 0; r < p; ++r)
      for (std::size_t i = 0; i < got_sims_[r].size(); ++i)
        merged_.offer(got_ids_[r][2 * i] - own_.first.value, got_sims_[r][i], GlobalId(got_ids_[r][2 * i + 1]));
    stats.merge_seconds += seconds_since(t0);
    progress.advance(pairs);
  }

  /// fn(own row, destination rank, 2 x unit + role) for every copy of an own row this round sends.
  template <typename Fn>
  void for_each_route(int round, Fn&& fn) const {
    auto route = [&](std::int64_t l, std::int64_t u, Role role) {
      if (plan_.unit_round[u] == round) fn(l, plan_.unit_rank[u], 2 * u + role);
    };
    for (std::int64_t l = 0; l < own_.count; ++l) {
      const std::int32_t c = routes_.clusters[routes_.offsets[l]];
      for (std::int64_t j = 0; j < plan_.query_pieces[c]; ++j) route(l, plan_.unit(c, j, routes_.member_piece[l]), kMember);
      for (std::int64_t x = routes_.offsets[l]; x < routes_.offsets[l + 1]; ++x) {
        const std::int32_t q = routes_.clusters[x];
        for (std::int64_t i = 0; i < plan_.member_pieces[q]; ++i) route(l, plan_.unit(q, routes_.query_piece[x], i), kQuery);
      }
    }
  }

  KnnLists finish() {
    KnnLists lists;
    lists.k = k_;
    merged_.finish(lists.neighbors, lists.similarities);
    return lists;
  }

 private:
  int owner_of(std::int64_t id) const {
    return static_cast<int>(std::upper_bound(owner_first_.begin(), owner_first_.end(), id) - owner_first_.begin()) - 1;
  }
  void gather(const std::vector<std::pair<int, std::int64_t>>& where, std::int64_t begin, std::int64_t end,
              std::vector<float>& rows, std::vector<std::int64_t>& ids) const {
    rows.resize(static_cast<std::size_t>((end - begin) * dim_));
    ids.resize(static_cast<std::size_t>(end - begin));
    for (std::int64_t i = begin; i < end; ++i) {
      const auto [r, at] = where[i];
      ids[i - begin] = got_meta_[r][2 * at];
      std::copy_n(got_rows_[r].begin() + at * dim_, dim_, rows.begin() + (i - begin) * dim_);
    }
  }

  const mpi::Comm& comm_;
  const RowBlock& own_;
  std::int64_t dim_;
  int k_;
  const ClusterPlan& plan_;
  const Routes& routes_;
  BlockSearch& search_;
  TopK merged_;
  std::vector<std::int64_t> owner_first_;
  std::vector<std::int64_t> slot_;
  KnnLists lists_;
  // Buffers reused over rounds.
  std::vector<std::vector<std::int64_t>> send_meta_, got_meta_, result_ids_, got_ids_;
  std::vector<std::vector<float>> send_rows_, got_rows_, result_sims_, got_sims_;
  std::vector<float> member_rows_, query_rows_;
  std::vector<std::int64_t> member_ids_, query_ids_;
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
  KmeansStats kmeans;
  const Centroids centroids = train_centroids(
      comm, own, dim, total, {options.clusters, options.train_sample, options.train_iterations, options.seed}, search,
      kmeans);
  report.add_counter("train_seconds", seconds_since(t0));

  // Each row's cluster, and the global member counts (a row probes more clusters while its
  // probed ones hold fewer than k + 1 members).
  t0 = Clock::now();
  const auto primary = nearest_centroids(own, centroids, 1, search);
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
    result.recall_by_probe = sample->recall_by_probe(result.probe_levels, primary, members, centroids, search);
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
  Routes routes = probed_clusters(own, centroids, probe == 1 ? primary : nearest_centroids(own, centroids, probe, search),
                                  probe, members, options.k, search);
  const ClusterPlan plan = plan_and_route(comm, own.count, options.clusters, options.round_rows, routes);
  assign_seconds += seconds_since(t0);
  report.add_counter("assign_seconds", assign_seconds);
  report.add_counter("extra_probes", static_cast<double>(routes.clusters.size() - own.count * probe));

  RoundRunner runner(comm, own, dim, options.k, plan, routes, search);
  RoundStats stats;
  util::Progress progress(comm, "knn ivf", static_cast<std::int64_t>(plan.pairs()), "pairs", quiet);
  for (int round = 0; round < plan.rounds; ++round) runner.run(round, stats, progress);
  progress.finish();
  result.lists = runner.finish();
  if (sample) result.recall = sample->measure(result.lists);

  // Report: per-rank counters, then figures of the whole search.
  report.add_counter("shuffle_seconds", stats.shuffle_seconds);
  report.add_counter("search_seconds", stats.search_seconds);
  report.add_counter("merge_seconds", stats.merge_seconds);
  report.add_counter("rows_shuffled", stats.rows_sent);
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
