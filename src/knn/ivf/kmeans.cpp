#include "knn/ivf/kmeans.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "knn/ivf/hash_sample.hpp"
#include "util/random.hpp"

namespace weave::knn::ivf {

namespace {

constexpr std::uint64_t kSampleStream = 0x6b6d65616e73ULL;  // "kmeans"

/// Unit row from a float64 direction (norm computed in a fixed order); false for a zero direction.
bool normalize_into(const double* direction, std::int64_t dim, float* out) {
  double norm2 = 0;
  for (std::int64_t j = 0; j < dim; ++j) norm2 += direction[j] * direction[j];
  if (!(norm2 > 0)) return false;
  const double inv = 1.0 / std::sqrt(norm2);
  for (std::int64_t j = 0; j < dim; ++j) out[j] = static_cast<float>(direction[j] * inv);
  return true;
}

/// The sample's first `clusters` rows by key, on every rank in key order.
std::vector<float> initial_centroids(const mpi::Comm& comm, const RowBlock& own, std::int64_t dim,
                                     const std::vector<std::int64_t>& sample_by_key, int clusters,
                                     std::uint64_t seed) {
  std::vector<std::uint64_t> keys;
  std::vector<float> rows;
  // The sample is in key order, so the rows wanted are among each rank's first `clusters`.
  const auto mine = std::min<std::size_t>(sample_by_key.size(), static_cast<std::size_t>(clusters));
  for (std::size_t i = 0; i < mine; ++i) {
    const std::int64_t l = sample_by_key[i];
    keys.push_back(sample_key(seed, own.first.value + l));
    rows.insert(rows.end(), own.rows + l * dim, own.rows + (l + 1) * dim);
  }
  auto all_keys = comm.gatherv<std::uint64_t>(keys, 0);
  auto all_rows = comm.gatherv<float>(rows, 0);
  std::vector<float> chosen(static_cast<std::size_t>(clusters * dim));
  if (comm.is_root()) {
    std::vector<std::size_t> order(all_keys.size());
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return all_keys[a] < all_keys[b]; });
    for (int c = 0; c < clusters; ++c)
      std::copy_n(all_rows.begin() + static_cast<std::ptrdiff_t>(order[c] * dim), dim, chosen.begin() + c * dim);
  }
  comm.bcast(std::span<float>(chosen), 0);
  return chosen;
}

}  // namespace

std::vector<std::int64_t> Centroids::ids() const {
  std::vector<std::int64_t> ids(static_cast<std::size_t>(count));
  std::iota(ids.begin(), ids.end(), kCentroidIdBase);
  return ids;
}

std::vector<std::int32_t> nearest_centroids(const RowSet& rows, const Centroids& centroids, int probe,
                                            BlockSearch& search, std::vector<float>* similarities) {
  const auto ids = centroids.ids();
  KnnLists lists;
  search.search(rows, RowSet{centroids.rows.data(), ids.data(), centroids.count}, centroids.dim, probe, lists);
  std::vector<std::int32_t> nearest(lists.neighbors.size());
  for (std::size_t i = 0; i < nearest.size(); ++i)
    nearest[i] = static_cast<std::int32_t>(lists.neighbors[i] - kCentroidIdBase);  // probe <= clusters: no padding
  if (similarities) *similarities = std::move(lists.similarities);
  return nearest;
}

Centroids train_centroids(const mpi::Comm& comm, const RowBlock& own, std::int64_t dim, std::int64_t total,
                          const KmeansOptions& options, BlockSearch& search, KmeansStats& stats) {
  const int clusters = options.clusters;
  const std::uint64_t seed = util::mix64(options.seed ^ kSampleStream);
  const auto sample_by_key = lowest_key_sample(comm, own.first.value, own.count, total, seed, options.sample);
  stats.sample = comm.sum(static_cast<std::int64_t>(sample_by_key.size()));

  Centroids centroids{clusters, dim, initial_centroids(comm, own, dim, sample_by_key, clusters, seed)};
  // This rank's sample: held rows picked by index (on the GPU they stay there).
  const auto ns = static_cast<std::int64_t>(sample_by_key.size());
  const RowSet sample = RowSet::held_picks(sample_by_key.data(), ns);

  std::vector<std::int64_t> sums(static_cast<std::size_t>(clusters * dim + clusters + 1));
  std::vector<double> direction(static_cast<std::size_t>(dim));
  std::vector<float> similarity;
  for (int iteration = 0; iteration < options.iterations; ++iteration) {
    const auto assigned = nearest_centroids(sample, centroids, 1, search, &similarity);
    std::fill(sums.begin(), sums.end(), 0);
    search.add_fixed_point_sums(sample, assigned.data(), clusters, dim, sums.data());
    std::int64_t* counts = sums.data() + clusters * dim;
    std::int64_t& similarity_sum = sums.back();
    for (std::int64_t i = 0; i < ns; ++i) {
      ++counts[assigned[i]];
      similarity_sum += to_fixed_point(similarity[i]);  // the canonical similarity to its centroid
    }
    comm.sum_inplace(std::span<std::int64_t>(sums));
    stats.mean_similarity = static_cast<double>(similarity_sum) / kFixedPointScale / static_cast<double>(stats.sample);

    // New centroids: the normalised sums (a zero sum keeps the old centroid).
    for (int c = 0; c < clusters; ++c) {
      if (counts[c] == 0) continue;
      for (std::int64_t j = 0; j < dim; ++j) direction[j] = static_cast<double>(sums[c * dim + j]) / kFixedPointScale;
      normalize_into(direction.data(), dim, centroids.rows.data() + c * dim);
    }
    // Empty clusters take half of the largest one (ties: lowest id): its centroid nudged both ways
    // along a direction drawn from (seed, iteration, cluster), as faiss splits clusters.
    std::vector<std::int64_t> size(counts, counts + clusters);
    for (int e = 0; e < clusters; ++e) {
      if (size[e] != 0) continue;
      const int big = static_cast<int>(std::max_element(size.begin(), size.end()) - size.begin());
      if (size[big] < 2) break;  // nothing left to split (the sample has duplicates)
      util::CounterRng rng(seed, static_cast<std::uint64_t>(iteration), static_cast<std::uint64_t>(e));
      std::vector<double> nudge(static_cast<std::size_t>(dim));
      for (auto& x : nudge) x = rng.normal();
      double norm = 0;
      for (double x : nudge) norm += x * x;
      const double scale = (1.0 / 1024) / std::sqrt(norm);
      float* a = centroids.rows.data() + static_cast<std::int64_t>(big) * dim;
      float* b = centroids.rows.data() + static_cast<std::int64_t>(e) * dim;
      std::vector<double> plus(static_cast<std::size_t>(dim)), minus(static_cast<std::size_t>(dim));
      for (std::int64_t j = 0; j < dim; ++j) {
        plus[j] = a[j] + scale * nudge[j];
        minus[j] = a[j] - scale * nudge[j];
      }
      normalize_into(plus.data(), dim, b);
      normalize_into(minus.data(), dim, a);
      size[e] = size[big] / 2;
      size[big] -= size[e];
      ++stats.empty_clusters_split;
    }
    stats.iterations = iteration + 1;
  }
  return centroids;
}

}  // namespace weave::knn::ivf
