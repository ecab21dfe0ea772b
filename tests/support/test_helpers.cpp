#include "test_helpers.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>

namespace weave::testing {

ScratchDir::ScratchDir(const mpi::Comm& comm, const std::string& tag) : comm_(comm) {
  std::string name;
  if (comm.is_root()) {
    const auto stamp = std::chrono::steady_clock::now().time_since_epoch().count();
    dir_ = std::filesystem::temp_directory_path() / (tag + "-" + std::to_string(getpid()) + "-" + std::to_string(stamp));
    std::filesystem::create_directories(dir_);
    name = dir_.string();
  }
  dir_ = comm.bcast_string(name, 0);
}

ScratchDir::~ScratchDir() {
  comm_.barrier();
  if (comm_.is_root()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

}  // namespace weave::testing

#include "corpus/synth.hpp"
#include "io/hdf5.hpp"
#include "util/random.hpp"
#include "util/report.hpp"

namespace weave::testing {

CorpusArrays CorpusArrays::slice(std::int64_t begin, std::int64_t end) const {
  CorpusArrays out;
  out.dim = dim;
  out.has_doc_ids = has_doc_ids, out.has_sources = has_sources, out.has_topics = has_topics;
  out.embeddings.assign(embeddings.begin() + begin * dim, embeddings.begin() + end * dim);
  out.lengths.assign(lengths.begin() + begin, lengths.begin() + end);
  if (!doc_ids.empty()) out.doc_ids.assign(doc_ids.begin() + begin, doc_ids.begin() + end);
  if (!sources.empty()) out.sources.assign(sources.begin() + begin, sources.begin() + end);
  if (!topics.empty()) out.topics.assign(topics.begin() + begin, topics.begin() + end);
  return out;
}

void write_corpus_file(const std::string& path, const CorpusArrays& c) {
  const mpi::Comm self = mpi::Comm::self();
  io::File f = io::File::create(self, path);
  const std::int64_t n = c.rows();
  io::create_dataset(f, "/embeddings", io::StoredType::kFloat32, {n, c.dim});
  io::write_rows(f, "/embeddings", 0, n, c.dim, c.embeddings.data());
  io::create_dataset(f, "/lengths", io::StoredType::kInt64, {n});
  io::write_rows(f, "/lengths", 0, n, 1, c.lengths.data());
  if (c.has_doc_ids) {
    io::create_dataset(f, "/doc_ids", io::StoredType::kInt64, {n});
    io::write_rows(f, "/doc_ids", 0, n, 1, c.doc_ids.data());
  }
  if (c.has_sources) {
    io::create_dataset(f, "/sources", io::StoredType::kInt32, {n});
    io::write_rows(f, "/sources", 0, n, 1, c.sources.data());
  }
  if (c.has_topics) {
    io::create_dataset(f, "/topics", io::StoredType::kInt32, {n});
    io::write_rows(f, "/topics", 0, n, 1, c.topics.data());
  }
  f.close();
}

CorpusArrays random_corpus(std::int64_t n, std::int64_t dim, std::uint64_t seed) {
  CorpusArrays c;
  c.dim = dim;
  c.has_doc_ids = c.has_sources = c.has_topics = true;
  for (std::int64_t i = 0; i < n; ++i) {
    util::CounterRng rng(seed, 0, static_cast<std::uint64_t>(i));
    for (std::int64_t j = 0; j < dim; ++j) c.embeddings.push_back(static_cast<float>(rng.normal()));
    c.lengths.push_back(1 + static_cast<std::int64_t>(rng.below(1000)));
    c.doc_ids.push_back(10 * i + 3);
    c.sources.push_back(static_cast<std::int32_t>(rng.below(3)));
    c.topics.push_back(static_cast<std::int32_t>(rng.below(7)));
  }
  return c;
}

CorpusArrays duplicated_corpus(std::int64_t distinct, std::int64_t copies, std::int64_t dim, std::uint64_t seed) {
  const CorpusArrays base = random_corpus(distinct, dim, seed);
  CorpusArrays c = random_corpus(distinct * copies, dim, seed + 1);
  for (std::int64_t i = 0; i < c.rows(); ++i)
    std::copy_n(base.embeddings.begin() + (i % distinct) * dim, dim, c.embeddings.begin() + i * dim);
  return c;
}

CorpusArrays grid_corpus(std::int64_t n, std::int64_t dim, std::uint64_t seed) {
  CorpusArrays c = random_corpus(n, dim, seed);
  util::CounterRng rng(seed, 5, static_cast<std::uint64_t>(dim));
  for (std::int64_t i = 0; i < n; ++i) {
    bool zero = true;
    while (zero) {
      for (std::int64_t j = 0; j < dim; ++j) {
        c.embeddings[i * dim + j] = static_cast<float>(static_cast<int>(rng.below(3)) - 1);
        zero = zero && c.embeddings[i * dim + j] == 0.0f;
      }
    }
  }
  return c;
}

void order_sensitive_rows(util::CounterRng& rng, std::size_t d, std::vector<float>& a, std::vector<float>& b) {
  a.resize(d);
  b.resize(d);
  for (std::size_t j = 0; j < d; ++j) {
    a[j] = static_cast<float>(2 * rng.uniform() - 1);
    b[j] = static_cast<float>(2 * rng.uniform() - 1);
  }
  if (d < 2) return;
  const std::size_t p = rng.below(d);
  const std::size_t q = (p + 1 + rng.below(d - 1)) % d;
  const float huge = std::ldexp(1.0f, 10 + static_cast<int>(rng.below(20)));
  a[p] = a[q] = b[p] = huge;
  b[q] = -huge;
}

std::string write_synth_corpus(const mpi::Comm& comm, const ScratchDir& dir, SynthConfig s, const std::string& name) {
  s.out = dir.path(name);
  util::Report report(comm, "synth");
  corpus::write_synth_corpus(comm, s, true, report);
  return s.out;
}

std::string write_corpus_on_root(const mpi::Comm& comm, const ScratchDir& dir, const std::string& name,
                                 const CorpusArrays& corpus) {
  if (comm.is_root()) write_corpus_file(dir.path(name), corpus);
  comm.barrier();
  return dir.path(name);
}

float reference_similarity(const float* a, const float* b, std::int64_t d) {
  std::vector<double> p(32, 0.0);
  for (std::int64_t g = 0; g * 4 < d; ++g)
    for (std::int64_t j = g * 4; j < std::min(d, g * 4 + 4); ++j) p[g % 32] += double(a[j]) * double(b[j]);
  for (int width = 32; width > 1; width /= 2)
    for (int l = 0; l < width / 2; ++l) p[l] = p[l] + p[l + width / 2];
  return static_cast<float>(p[0]);
}

knn::KnnLists brute_force_knn(const std::vector<float>& unit_rows, std::int64_t n, std::int64_t d, int k,
                              const std::function<bool(std::int64_t query, std::int64_t row)>& allowed) {
  knn::KnnLists out;
  out.k = k;
  out.neighbors.assign(static_cast<std::size_t>(n * k), -1);
  out.similarities.assign(static_cast<std::size_t>(n * k), std::nanf(""));
  std::vector<std::pair<float, std::int64_t>> all;
  for (std::int64_t q = 0; q < n; ++q) {
    all.clear();
    for (std::int64_t x = 0; x < n; ++x) {
      if (x == q || (allowed && !allowed(q, x))) continue;
      all.emplace_back(reference_similarity(&unit_rows[q * d], &unit_rows[x * d], d), x);
    }
    std::sort(all.begin(), all.end(), [](auto& a, auto& b) { return a.first != b.first ? a.first > b.first : a.second < b.second; });
    for (int j = 0; j < k && j < static_cast<int>(all.size()); ++j) {
      out.neighbors[q * k + j] = all[j].second;
      out.similarities[q * k + j] = all[j].first;
    }
  }
  return out;
}

}  // namespace weave::testing
