#include "knn/ivf/recall_sample.hpp"

#include <algorithm>
#include <numeric>
#include <tuple>

#include "knn/cpu/row_search.hpp"
#include "knn/ivf/hash_sample.hpp"
#include "knn/ivf/ivf_search.hpp"
#include "knn/topk.hpp"

namespace weave::knn::ivf {

namespace {

constexpr std::uint64_t kRecallStream = 0x726563616c6cULL;  // "recall"

struct Candidate {
  float similarity;
  std::int64_t id;
  std::int32_t bucket;
};

}  // namespace

RecallSample::RecallSample(const mpi::Comm& comm, const RowBlock& own, std::int64_t dim, std::int64_t total,
                           std::int64_t count, std::uint64_t seed, int k)
    : comm_(comm), own_(own), dim_(dim), k_(k) {
  auto local = lowest_key_sample(comm, own.first.value, own.count, total, util::mix64(seed ^ kRecallStream), count);
  std::sort(local.begin(), local.end());  // id order, so the concatenation over ranks is ascending
  std::vector<std::int64_t> ids;
  std::vector<float> rows;
  for (std::int64_t l : local) {
    ids.push_back(own.first.value + l);
    rows.insert(rows.end(), own.rows + l * dim, own.rows + (l + 1) * dim);
  }
  ids_ = comm.gatherv<std::int64_t>(ids, 0);
  rows_ = comm.gatherv<float>(rows, 0);
  std::int64_t n = comm.bcast_value(static_cast<std::int64_t>(ids_.size()), 0);
  ids_.resize(static_cast<std::size_t>(n));
  rows_.resize(static_cast<std::size_t>(n * dim));
  comm.bcast(std::span<std::int64_t>(ids_), 0);
  comm.bcast(std::span<float>(rows_), 0);
}

std::vector<double> RecallSample::recall_by_probe(const std::vector<int>& levels, const std::vector<std::int32_t>& primary,
                                                  const std::vector<std::int64_t>& members, const Centroids& centroids,
                                                  BlockSearch& search) {
  const std::int64_t s_count = size();
  const int p = comm_.size();
  const std::int64_t clusters = centroids.count;
  // Level i keeps the rows whose cluster is among the first probes(i) of the query's ranking, where
  // probes(i) is what the search would probe with nprobe = levels[i] (probes_needed: more while
  // the clusters are tiny). Bucket i: the rows first kept at level i; the last bucket: the rest (in
  // no list but the exact one and nprobe = all clusters).
  int below = 0;
  for (int level : levels)
    if (level < clusters) below = std::max(below, level);
  const int ranked = below == 0 ? 0 : static_cast<int>(std::min<std::int64_t>(clusters, below + kExtraProbes));
  const auto buckets = static_cast<std::int32_t>(levels.size() + 1);
  // bucket[s * clusters + c]: the bucket of query s's rows of cluster c (levels are few, so a byte
  // each; a table instead of a search, since it is looked up for every pair).
  std::vector<std::uint8_t> bucket(static_cast<std::size_t>(s_count * clusters), static_cast<std::uint8_t>(buckets - 1));
  if (ranked > 0) {
    const RowBlock queries{rows_.data(), s_count, GlobalId(0)};
    const auto nearest = nearest_centroids(queries, centroids, ranked, search);
    std::vector<int> probes(levels.size());
    for (std::int64_t s = 0; s < s_count; ++s) {
      const std::int32_t* ranking = nearest.data() + s * ranked;
      for (std::size_t i = 0; i < levels.size(); ++i)
        probes[i] = levels[i] >= clusters ? ranked : probes_needed(ranking, ranked, levels[i], members, k_);
      std::size_t i = 0;
      for (int pos = 0; pos < ranked; ++pos) {
        while (i < levels.size() && probes[i] <= pos) ++i;
        bucket[s * clusters + ranking[pos]] = static_cast<std::uint8_t>(i);
      }
    }
  }

  // Every (sample query, own row) pair, kept per bucket: k best of each.
  TopK topk(s_count * buckets, k_);
  const float slack = float_dot_error_bound(dim_);
  constexpr std::int64_t kTile = 2048;
  std::vector<float> scores(static_cast<std::size_t>(s_count * std::min(kTile, std::max<std::int64_t>(1, own_.count))));
  for (std::int64_t b0 = 0; b0 < own_.count; b0 += kTile) {
    const std::int64_t nb = std::min(kTile, own_.count - b0);
    similarity_tile(rows_.data(), static_cast<int>(s_count), own_.rows + b0 * dim_, static_cast<int>(nb),
                    static_cast<int>(dim_), scores.data());
#pragma omp parallel for schedule(dynamic, 4)
    for (std::int64_t s = 0; s < s_count; ++s) {
      const float* row = scores.data() + s * nb;
      const std::uint8_t* bucket_of = bucket.data() + s * clusters;
      for (std::int64_t x = 0; x < nb; ++x) {
        const std::int64_t l = b0 + x;
        const std::int64_t slot = s * buckets + bucket_of[primary[l]];
        if (row[x] < topk.threshold(slot) - slack) continue;
        const std::int64_t id = own_.first.value + l;
        if (id == ids_[s]) continue;
        topk.offer(slot, canonical_similarity(rows_.data() + s * dim_, own_.rows + l * dim_, dim_), GlobalId(id));
      }
    }
  }
  std::vector<std::int64_t> kept_ids;
  std::vector<float> kept_sims;
  topk.finish(kept_ids, kept_sims);

  // Every bucket list of query s to its home rank, which merges them.
  std::vector<std::vector<std::int64_t>> send_ids(p);
  std::vector<std::vector<float>> send_sims(p);
  for (std::int64_t s = 0; s < s_count; ++s)
    for (std::int32_t b = 0; b < buckets; ++b)
      for (int j = 0; j < k_; ++j) {
        const std::int64_t at = (s * buckets + b) * k_ + j;
        if (kept_ids[at] < 0) break;
        send_ids[home_of(s)].insert(send_ids[home_of(s)].end(), {s, b, kept_ids[at]});
        send_sims[home_of(s)].push_back(kept_sims[at]);
      }
  const auto got_ids = comm_.alltoallv(send_ids);
  const auto got_sims = comm_.alltoallv(send_sims);
  const std::int64_t homed = (s_count - comm_.rank() + p - 1) / p;
  std::vector<std::vector<Candidate>> candidates(static_cast<std::size_t>(std::max<std::int64_t>(0, homed)));
  for (int r = 0; r < p; ++r)
    for (std::size_t i = 0; i < got_sims[r].size(); ++i) {
      const std::int64_t s = got_ids[r][3 * i];
      candidates[s / p].push_back({got_sims[r][i], got_ids[r][3 * i + 2], static_cast<std::int32_t>(got_ids[r][3 * i + 1])});
    }

  // hits[level], then the number of exact entries.
  std::vector<std::int64_t> hits(levels.size() + 1, 0);
  exact_.assign(candidates.size(), {});
  for (std::size_t h = 0; h < candidates.size(); ++h) {
    auto& c = candidates[h];
    std::sort(c.begin(), c.end(), [](const Candidate& a, const Candidate& b) {
      return a.similarity != b.similarity ? a.similarity > b.similarity : a.id < b.id;
    });
    auto& exact = exact_[h];
    for (std::size_t j = 0; j < c.size() && static_cast<int>(exact.size()) < k_; ++j) exact.push_back(c[j].id);
    hits.back() += static_cast<std::int64_t>(exact.size());
    std::vector<std::int64_t> sorted_exact = exact;
    std::sort(sorted_exact.begin(), sorted_exact.end());
    for (std::size_t level = 0; level < levels.size(); ++level) {
      const bool all = levels[level] >= centroids.count;
      int taken = 0;
      for (std::size_t j = 0; j < c.size() && taken < k_; ++j) {
        if (!all && c[j].bucket > static_cast<std::int32_t>(level)) continue;
        ++taken;
        hits[level] += std::binary_search(sorted_exact.begin(), sorted_exact.end(), c[j].id) ? 1 : 0;
      }
    }
  }
  comm_.sum_inplace(std::span<std::int64_t>(hits));
  std::vector<double> recall(levels.size());
  for (std::size_t level = 0; level < levels.size(); ++level)
    recall[level] = hits.back() == 0 ? 1.0 : static_cast<double>(hits[level]) / static_cast<double>(hits.back());
  return recall;
}

double RecallSample::measure(const KnnLists& lists) const {
  const int p = comm_.size();
  std::vector<std::vector<std::int64_t>> send(p);
  const auto first = std::lower_bound(ids_.begin(), ids_.end(), own_.first.value) - ids_.begin();
  const auto last = std::lower_bound(ids_.begin(), ids_.end(), own_.first.value + own_.count) - ids_.begin();
  for (std::int64_t s = first; s < last; ++s) {
    const std::int64_t l = ids_[s] - own_.first.value;
    auto& out = send[home_of(s)];
    out.push_back(s);
    out.insert(out.end(), lists.neighbors.begin() + l * k_, lists.neighbors.begin() + (l + 1) * k_);
  }
  const auto got = comm_.alltoallv(send);
  std::int64_t counts[2] = {0, 0};  // hits, exact entries
  for (int r = 0; r < p; ++r)
    for (std::size_t at = 0; at < got[r].size(); at += static_cast<std::size_t>(k_ + 1)) {
      const auto& exact = exact_[got[r][at] / p];
      counts[1] += static_cast<std::int64_t>(exact.size());
      for (int j = 0; j < k_; ++j) {
        const std::int64_t id = got[r][at + 1 + j];
        if (id >= 0 && std::find(exact.begin(), exact.end(), id) != exact.end()) ++counts[0];
      }
    }
  comm_.sum_inplace(std::span<std::int64_t>(counts));
  return counts[1] == 0 ? 1.0 : static_cast<double>(counts[0]) / static_cast<double>(counts[1]);
}

}  // namespace weave::knn::ivf
