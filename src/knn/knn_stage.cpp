#include "knn/knn_stage.hpp"

#include <cmath>

#include "corpus/corpus.hpp"
#include "corpus/metadata.hpp"
#include "io/atomic_output.hpp"
#include "knn/backend.hpp"
#include "knn/exact_ring.hpp"
#include "knn/knn_file.hpp"
#include "mpi/collective_error.hpp"
#include "util/config_json.hpp"
#include "util/log.hpp"
#include "util/report.hpp"

namespace weave::knn {

void run_knn_stage(const mpi::Comm& comm, const KnnConfig& config, const CommonOptions& common, util::Report& report) {
  mpi::collectively(comm, [&] { config.validate(); });
  // Before any work: a bad output path costs seconds, not the search (lists: an id and a float each).
  const corpus::CorpusInfo info = corpus::read_corpus_info(comm, config.corpus.path);
  io::check_output_path(comm, config.out, static_cast<double>(info.num_docs) * config.k * 12);
  std::unique_ptr<SearchBackend> backend;
  mpi::collectively(comm, [&] { backend = make_backend(config, comm); });

  auto read_timer = report.stage("read_corpus");
  const corpus::CorpusBlock block = corpus::read_corpus(comm, config.corpus);
  report.add_counter("corpus_bytes_read", block.bytes_read);
  read_timer.stop();
  const std::int64_t n = block.info.num_docs;
  if (n - 1 < config.k)
    util::warn_root(comm, "weave knn: warning: the corpus has {}, so each has fewer than k={} neighbours; the lists "
                          "are padded with id -1 and similarity NaN\n", util::count_of(n, "document"), config.k);

  auto search_timer = report.stage("search");
  const KnnLists lists = exact_ring_knn(comm, block, config, *backend, common.quiet, report);
  search_timer.stop();

  auto write_timer = report.stage("write");
  write_knn_file(comm, config.out, block, lists, {config.method, backend->name(), to_json(config)});
  write_timer.stop();

  // Quality figures: mean similarity of the first and the k-th neighbour.
  double first = 0, last = 0;
  for (std::int64_t i = 0; i < block.size(); ++i) {
    const float a = lists.similarities[i * config.k];
    const float b = lists.similarities[i * config.k + config.k - 1];
    first += std::isnan(a) ? 0 : a;
    last += std::isnan(b) ? 0 : b;
  }
  first = comm.sum(first) / static_cast<double>(n);
  last = comm.sum(last) / static_cast<double>(n);
  report.set_figure("documents", n);
  report.set_figure("k", config.k);
  report.set_figure("mean_similarity_first_neighbor", first);
  report.set_figure("mean_similarity_kth_neighbor", last);
  if (!common.quiet)
    util::print_root(comm, "weave knn: wrote {} ({}, k={}, {} backend); mean similarity: first neighbour "
                           "{:.4f}, k-th {:.4f}\n", config.out, util::count_of(n, "document"), config.k, backend->name(),
                     first, last);
}

}  // namespace weave::knn
