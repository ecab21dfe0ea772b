// Baseline for benchmarks/knn_cpu.py: one process puts the whole corpus into a faiss IndexFlatIP
// and searches it with all its OpenMP threads (k+1 results, self dropped). Prints one RESULT line.
// Usage: faiss_flat_baseline CORPUS K [OUT_IDS.bin]
#include <omp.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <vector>

#include <faiss/IndexFlat.h>
#include <fmt/format.h>

#include "corpus/corpus.hpp"
#include "lists_without_self.hpp"
#include "mpi/environment.hpp"

int main(int argc, char** argv) {
  weave::mpi::Environment env(argc, argv);
  if (argc < 3) {
    fmt::print(stderr, "usage: faiss_flat_baseline CORPUS K [OUT_IDS.bin]\n");
    return 2;
  }
  const weave::mpi::Comm self = weave::mpi::Comm::self();
  weave::CorpusOptions options;
  options.path = argv[1];
  const int k = std::stoi(argv[2]);
  const auto block = weave::corpus::read_corpus(self, options);
  const std::int64_t n = block.size(), d = block.info.dim;

  const auto t0 = std::chrono::steady_clock::now();
  faiss::IndexFlatIP index(d);
  index.add(n, block.embeddings.data());
  std::vector<float> sims(static_cast<std::size_t>(n * (k + 1)));
  std::vector<faiss::Index::idx_t> ids(sims.size());
  index.search(n, block.embeddings.data(), k + 1, sims.data(), ids.data());
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  if (argc > 3)  // the lists without self, for the benchmark's agreement check
    write_lists_without_self(argv[3], std::vector<std::int64_t>(ids.begin(), ids.end()), n, k);
  fmt::print("RESULT baseline=faiss_IndexFlatIP n={} d={} k={} threads={} seconds={:.4f}\n", n, d, k,
             omp_get_max_threads(), seconds);
  return 0;
}
