#include "knn/ivf/recall_sample.hpp"

#include <algorithm>

#include "knn/ivf/hash_sample.hpp"
#include "knn/ivf/ivf_search.hpp"

namespace weave::knn::ivf {

namespace {

constexpr std::uint64_t kRecallStream = 0x726563616c6cULL;  // "recall"

struct Candidate {
  float similarity;
  std::int64_t id;
  std::int32_t cluster;  ///< the row's nearest centroid
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

std::vector<double> RecallSample::recall_by_probe(std::vector<int>& levels, const std::vector<std::int32_t>& primary,
                                                  const std::vector<std::int64_t>& members, const Centroids& centroids,
                                                  BlockSearch& search, double stop_at_recall, int needed_level) {
  const std::int64_t s_count = size();
  const int p = comm_.size();
  const std::int64_t clusters = centroids.count;

  // The k best of every sample query among this rank's rows (held by the search), each with the
  // row's cluster, to the query's home rank, which keeps the k best of all: the exact list.
  KnnLists local;
  search.search(RowSet{rows_.data(), ids_.data(), s_count}, RowSet::held_run(0, own_.count), dim_, k_, local);
  std::vector<std::vector<std::int64_t>> send_ids(p);
  std::vector<std::vector<float>> send_sims(p);
  for (std::int64_t s = 0; s < s_count; ++s)
    for (int j = 0; j < k_; ++j) {
      const std::int64_t id = local.neighbors[s * k_ + j];
      if (id < 0) break;
      send_ids[home_of(s)].insert(send_ids[home_of(s)].end(), {s, id, primary[id - own_.first.value]});
      send_sims[home_of(s)].push_back(local.similarities[s * k_ + j]);
    }
  const auto got_ids = comm_.alltoallv(send_ids);
  const auto got_sims = comm_.alltoallv(send_sims);
  const std::int64_t homed = (s_count - comm_.rank() + p - 1) / p;
  std::vector<std::vector<Candidate>> candidates(static_cast<std::size_t>(std::max<std::int64_t>(0, homed)));
  for (int r = 0; r < p; ++r)
    for (std::size_t i = 0; i < got_sims[r].size(); ++i) {
      const std::int64_t s = got_ids[r][3 * i];
      candidates[s / p].push_back({got_sims[r][i], got_ids[r][3 * i + 1], static_cast<std::int32_t>(got_ids[r][3 * i + 2])});
    }

  exact_.assign(candidates.size(), {});
  std::int64_t exact_entries = 0;
  for (std::size_t h = 0; h < candidates.size(); ++h) {
    auto& c = candidates[h];
    std::sort(c.begin(), c.end(), [](const Candidate& a, const Candidate& b) {
      return a.similarity != b.similarity ? a.similarity > b.similarity : a.id < b.id;
    });
    if (static_cast<int>(c.size()) > k_) c.resize(static_cast<std::size_t>(k_));
    for (const auto& e : c) exact_[h].push_back(e.id);
    exact_entries += static_cast<std::int64_t>(c.size());
  }
  exact_entries = comm_.sum(exact_entries);

  // What the search returns for query s with nprobe = level is the k best among the rows of the
  // clusters it probes; the exact list's rows in those clusters are among them (they beat every
  // other row), and no other row is in the exact list. So the hits at a level are the exact
  // list's rows whose cluster the query probes at that level: probes_needed of its ranking of the
  // clusters (more while they are tiny, as the search does); every row at level = all clusters.
  // The rankings are found in widening stages (a list of 3,000 clusters per query is slow to keep
  // on the GPU), each stage the levels it can answer, until the target is reached.
  std::vector<float> homed_rows;
  for (std::int64_t s = comm_.rank(); s < s_count; s += p)
    homed_rows.insert(homed_rows.end(), rows_.begin() + s * dim_, rows_.begin() + (s + 1) * dim_);
  std::vector<int> position(static_cast<std::size_t>(clusters));  // of each cluster in the query's ranking
  std::vector<double> recall;
  std::size_t done = 0;
  for (int width = static_cast<int>(std::min<std::int64_t>(clusters, 32)); done < levels.size();
       width = static_cast<int>(std::min<std::int64_t>(clusters, 4 * std::int64_t{width}))) {
    std::size_t next = done;
    while (next < levels.size() &&
           (levels[next] >= clusters || width == clusters || levels[next] + kExtraProbes <= width))
      ++next;
    if (next == done) continue;
    const bool rank = levels[done] < clusters;
    const auto nearest = rank ? nearest_centroids(RowSet{homed_rows.data(), nullptr, homed}, centroids, width, search)
                              : std::vector<std::int32_t>{};
    std::vector<std::int64_t> hits(next - done, 0);
    std::fill(position.begin(), position.end(), width);
    for (std::size_t h = 0; h < candidates.size(); ++h) {
      const std::int32_t* ranking = rank ? nearest.data() + static_cast<std::int64_t>(h) * width : nullptr;
      if (rank)
        for (int pos = 0; pos < width; ++pos) position[ranking[pos]] = pos;
      for (std::size_t level = done; level < next; ++level) {
        if (levels[level] >= clusters) {
          hits[level - done] += static_cast<std::int64_t>(candidates[h].size());
          continue;
        }
        const int probes = probes_needed(ranking, width, levels[level], members, k_);
        for (const auto& e : candidates[h]) hits[level - done] += position[e.cluster] < probes ? 1 : 0;
      }
      if (rank)
        for (int pos = 0; pos < width; ++pos) position[ranking[pos]] = width;
    }
    comm_.sum_inplace(std::span<std::int64_t>(hits));
    bool reached = false;
    for (std::size_t level = done; level < next; ++level) {
      recall.push_back(exact_entries == 0 ? 1.0 : static_cast<double>(hits[level - done]) / static_cast<double>(exact_entries));
      reached = reached || recall.back() >= stop_at_recall;
    }
    done = next;
    if (reached && levels[done - 1] >= needed_level) break;
  }
  levels.resize(done);
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
