// Generates, for benchmarks/order_bench.py, a clustered corpus and its kNN graph directly (no exact
// kNN search): document i belongs to topic i mod T, its embedding is the topic's centroid plus
// noise, and its k neighbours are the k most similar of 3k random documents of the same topic
// (canonical similarities). With `blocked`, topic t is instead the t-th contiguous run of ids (a
// corpus stored by source: a document's neighbours mostly on its own rank). Every rank generates
// its block; both files are written collectively.
// Usage: mpirun -n P order_graph_gen DOCS K TOPICS DIM OUT_DIR [blocked]
#include <algorithm>
#include <cmath>
#include <string>

#include <fmt/format.h>

#include "corpus/corpus.hpp"
#include "io/atomic_output.hpp"
#include "io/hdf5.hpp"
#include "knn/knn_file.hpp"
#include "knn/row_sum.hpp"
#include "knn/topk.hpp"
#include "mpi/environment.hpp"
#include "util/random.hpp"
#include "weave/error.hpp"

using namespace weave;

namespace {
struct Generator {
  std::int64_t n, topics, dim;
  bool blocked;
  std::int64_t per_topic;  ///< documents a topic draws its neighbours from
  std::vector<float> centroids;
  Generator(std::int64_t docs, std::int64_t t, std::int64_t d, bool b)
      : n(docs), topics(t), dim(d), blocked(b), per_topic(b ? (docs + t - 1) / t : docs / t),
        centroids(static_cast<std::size_t>(t * d)) {
    for (std::int64_t c = 0; c < t; ++c) {
      util::CounterRng rng(7, 1, static_cast<std::uint64_t>(c));
      for (std::int64_t j = 0; j < d; ++j) centroids[c * d + j] = static_cast<float>(rng.normal());
    }
  }
  std::int64_t topic_of(std::int64_t i) const { return blocked ? i / per_topic : i % topics; }
  /// The r-th document of topic t (r < per_topic; may be past the corpus' end).
  std::int64_t member(std::int64_t t, std::int64_t r) const { return blocked ? t * per_topic + r : t + topics * r; }
  void row(std::int64_t i, float* x) const {
    util::CounterRng rng(7, 2, static_cast<std::uint64_t>(i));
    double n2 = 0;
    for (std::int64_t j = 0; j < dim; ++j) {
      x[j] = static_cast<float>(centroids[topic_of(i) * dim + j] / std::sqrt(double(dim)) + 0.8 * rng.normal() / std::sqrt(double(dim)));
      n2 += double(x[j]) * x[j];
    }
    const auto inv = static_cast<float>(1.0 / std::sqrt(n2));
    for (std::int64_t j = 0; j < dim; ++j) x[j] *= inv;
  }
};
}  // namespace

int generate(const mpi::Comm& comm, int argc, char** argv) {
  if (argc < 6) {
    if (comm.is_root()) fmt::print(stderr, "usage: order_graph_gen DOCS K TOPICS DIM OUT_DIR [blocked]\n");
    return 2;
  }
  const std::int64_t n = std::stoll(argv[1]), topics = std::stoll(argv[3]), d = std::stoll(argv[4]);
  const int k = std::stoi(argv[2]);
  const std::string dir = argv[5];
  const bool blocked = argc > 6 && std::string(argv[6]) == "blocked";
  const Generator gen(n, topics, d, blocked);
  corpus::CorpusBlock block;
  block.info.num_docs = n;
  block.info.total_rows = n;
  block.info.dim = static_cast<int>(d);
  block.info.path = dir + "/corpus.h5";
  block.range = block_range(n, comm.size(), comm.rank());
  block.embeddings.resize(static_cast<std::size_t>(block.size() * d));
  std::vector<std::int32_t> lengths(static_cast<std::size_t>(block.size())), topic(lengths.size());
  for (std::int64_t i = 0; i < block.size(); ++i) {
    const std::int64_t doc = block.range.begin + i;
    gen.row(doc, block.embeddings.data() + i * d);
    util::CounterRng rng(7, 3, static_cast<std::uint64_t>(doc));
    lengths[i] = static_cast<std::int32_t>(std::clamp(300.0 * std::exp(1.4 * rng.normal()), 16.0, 262144.0));
    topic[i] = static_cast<std::int32_t>(gen.topic_of(doc));
  }
  {  // corpus.h5
    io::AtomicOutput out(comm, dir + "/corpus.h5");
    io::File f = io::File::create(comm, out.tmp_path());
    io::create_dataset(f, "/embeddings", io::StoredType::kFloat32, {n, d});
    io::create_dataset(f, "/lengths", io::StoredType::kInt32, {n});
    io::create_dataset(f, "/topics", io::StoredType::kInt32, {n});
    io::write_rows(f, "/embeddings", block.range.begin, block.size(), d, block.embeddings.data());
    io::write_rows(f, "/lengths", block.range.begin, block.size(), 1, lengths.data());
    io::write_rows(f, "/topics", block.range.begin, block.size(), 1, topic.data());
    f.close();
    out.commit();
  }
  // The graph: top k of 3k same-topic candidates.
  knn::TopK top(block.size(), k);
  std::vector<float> other(static_cast<std::size_t>(d));
  for (std::int64_t i = 0; i < block.size(); ++i) {
    const std::int64_t doc = block.range.begin + i;
    util::CounterRng rng(7, 4, static_cast<std::uint64_t>(doc));
    for (int c = 0; c < 3 * k; ++c) {
      const std::int64_t j = gen.member(gen.topic_of(doc), static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(gen.per_topic))));
      if (j == doc || j >= n) continue;
      gen.row(j, other.data());
      top.offer(i, knn::canonical_similarity(block.embeddings.data() + i * d, other.data(), d), GlobalId(j));
    }
  }
  knn::KnnLists lists;
  lists.k = k;
  top.finish(lists.neighbors, lists.similarities);
  // knn.h5 records the corpus as `weave knn` would (its fingerprint, the row sum of its rows as read).
  const corpus::CorpusBlock read = corpus::read_corpus(comm, CorpusOptions{.path = dir + "/corpus.h5"});
  knn::RowSum row_sum(d);
  for (std::int64_t i = 0; i < read.size(); ++i) row_sum.add(read.embedding(LocalId(i)));
  row_sum.sum_over(comm);
  knn::KnnFileAttributes attributes{"generated", "order_graph_gen", nlohmann::json::object(), {}, {}, {}, row_sum.units()};
  knn::write_knn_file(comm, dir + "/knn.h5", read, lists, attributes);
  if (comm.is_root())
    fmt::print("RESULT generated n={} k={} topics={} dim={}{}\n", n, k, topics, d, blocked ? " blocked" : "");
  return 0;
}

int main(int argc, char** argv) {
  mpi::Environment env(argc, argv);
  mpi::Comm comm;
  try {
    return generate(comm, argc, argv);
  } catch (const UserError& e) {  // e.g. a missing output folder: the same on every rank
    fmt::print(stderr, "order_graph_gen: {}\n", e.what());
    return 2;
  }
}
