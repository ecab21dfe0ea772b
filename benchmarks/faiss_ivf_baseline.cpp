// Baseline for benchmarks/knn_ivf.py: one process searches every document of the corpus with a faiss
// IndexIVFFlat (inner product) built on weave's own centroids (same clusters, same nprobe), with all
// its OpenMP threads (k+1 results, self dropped). For context it also times faiss's own spherical
// k-means on a sample of the same size. Prints one RESULT line.
// Usage: faiss_ivf_baseline CORPUS CENTROIDS.f32 NLIST K NPROBE TRAIN_SAMPLE OUT_IDS.bin
#include <omp.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <vector>

#include <faiss/Clustering.h>
#include <faiss/IndexFlat.h>
#include <faiss/IndexIVFFlat.h>
#include <fmt/format.h>

#include "corpus/corpus.hpp"
#include "lists_without_self.hpp"
#include "mpi/environment.hpp"

namespace {

double since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  weave::mpi::Environment env(argc, argv);
  if (argc < 8) {
    fmt::print(stderr, "usage: faiss_ivf_baseline CORPUS CENTROIDS.f32 NLIST K NPROBE TRAIN_SAMPLE OUT_IDS.bin\n");
    return 2;
  }
  const weave::mpi::Comm self = weave::mpi::Comm::self();
  weave::CorpusOptions options;
  options.path = argv[1];
  const int nlist = std::stoi(argv[3]), k = std::stoi(argv[4]), nprobe = std::stoi(argv[5]);
  const std::int64_t train_sample = std::stoll(argv[6]);
  const auto block = weave::corpus::read_corpus(self, options);
  const std::int64_t n = block.size(), d = block.info.dim;
  std::vector<float> centroids(static_cast<std::size_t>(nlist * d));
  std::ifstream(argv[2], std::ios::binary).read(reinterpret_cast<char*>(centroids.data()),
                                                static_cast<std::streamsize>(centroids.size() * sizeof(float)));

  // faiss's own k-means on an evenly strided sample of the same size (context only).
  auto t0 = std::chrono::steady_clock::now();
  {
    const std::int64_t stride = std::max<std::int64_t>(1, n / train_sample);
    std::vector<float> sample;
    for (std::int64_t i = 0; i < n && static_cast<std::int64_t>(sample.size()) < train_sample * d; i += stride)
      sample.insert(sample.end(), block.embeddings.begin() + i * d, block.embeddings.begin() + (i + 1) * d);
    faiss::ClusteringParameters cp;
    cp.niter = 10;
    cp.spherical = true;
    cp.max_points_per_centroid = 1 << 30;
    faiss::Clustering clustering(static_cast<int>(d), nlist, cp);
    faiss::IndexFlatIP index(d);
    clustering.train(static_cast<faiss::Index::idx_t>(sample.size() / d), sample.data(), index);
  }
  const double train_seconds = since(t0);

  t0 = std::chrono::steady_clock::now();
  faiss::IndexFlatIP quantizer(d);
  quantizer.add(nlist, centroids.data());
  faiss::IndexIVFFlat index(&quantizer, d, nlist, faiss::METRIC_INNER_PRODUCT);
  index.is_trained = true;
  index.add(n, block.embeddings.data());
  const double add_seconds = since(t0);

  t0 = std::chrono::steady_clock::now();
  index.nprobe = nprobe;
  std::vector<float> sims(static_cast<std::size_t>(n * (k + 1)));
  std::vector<faiss::Index::idx_t> ids(sims.size());
  index.search(n, block.embeddings.data(), k + 1, sims.data(), ids.data());
  const double search_seconds = since(t0);

  write_lists_without_self(argv[7], std::vector<std::int64_t>(ids.begin(), ids.end()), n, k);
  fmt::print("RESULT baseline=faiss_IndexIVFFlat n={} d={} k={} nlist={} nprobe={} threads={} train_seconds={:.4f} "
             "add_seconds={:.4f} search_seconds={:.4f}\n",
             n, d, k, nlist, nprobe, omp_get_max_threads(), train_seconds, add_seconds, search_seconds);
  return 0;
}
