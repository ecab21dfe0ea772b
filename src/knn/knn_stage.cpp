#include "knn/knn_stage.hpp"

#include <cmath>

#include "corpus/corpus.hpp"
#include "corpus/metadata.hpp"
#include "io/atomic_output.hpp"
#include "knn/backend.hpp"
#include "knn/block_search.hpp"
#include "knn/row_sum.hpp"
#include "knn/exact_ring.hpp"
#include "knn/identical_rows.hpp"
#include "knn/ivf/ivf_search.hpp"
#include "knn/knn_file.hpp"
#include "mpi/collective_error.hpp"
#include "util/config_json.hpp"
#include "util/exact_sum.hpp"
#include "util/log.hpp"
#include "util/report.hpp"
#include "weave/error.hpp"

namespace weave::knn {

namespace {

RingOptions ring_options(const KnnConfig& config, bool quiet) {
  return RingOptions{config.k, config.corpus.max_block_rows, quiet};
}

/// The ivf search of the block (identical rows searched once), its figures into the file's attributes.
KnnLists approximate_knn(const mpi::Comm& comm, const corpus::CorpusBlock& block, const KnnConfig& config,
                         BlockSearch& search, bool quiet, util::Report& report, KnnFileAttributes& attributes) {
  ivf::IvfResult result;
  int clusters = 0;  // of the rows searched (the distinct ones when identical rows were folded)
  const int ranks = comm.size();
  KnnLists lists = search_identical_rows_once(comm, distributed_rows_of(block), config.k, report, [&](const DistributedRows& rows) {
    const std::int64_t n = rows.total;
    mpi::collectively(comm, [&] { config.validate_for(n); });  // n: the distinct rows when folded
    ivf::IvfOptions options;
    options.k = config.k;
    options.clusters = clusters = config.resolved_nlist(n);
    options.probe = config.nprobe;
    options.target_recall = config.target_recall;
    options.train_sample = config.resolved_train_sample(n);
    options.train_iterations = config.train_iterations;
    options.recall_sample = config.recall_sample;
    // The probe is not known before the recall sample chooses it: plan for a typical one.
    options.round_rows = config.resolved_round_rows(n, static_cast<int>(rows.dim), ranks,
                                                    config.nprobe > 0 ? config.nprobe : 16);
    result = ivf::ivf_knn(comm, rows.own, rows.dim, n, options, search, quiet, report);
    attributes.integers = {{"nlist", options.clusters}, {"nprobe", result.probe},
                           {"train_sample", options.train_sample}, {"recall_queries", result.recall_queries}};
    attributes.centroids = std::move(result.centroids);
    if (result.recall >= 0) attributes.reals = {{"recall_at_k", result.recall}, {"target_recall", config.target_recall}};
    return std::move(result.lists);
  });
  if (!quiet) {
    if (result.recall >= 0)
      util::print_root(comm, "weave knn: ivf with nlist={} nprobe={}: recall@{} {:.4f} on {} (target {})\n",
                       clusters, result.probe, config.k, result.recall,
                       util::count_of(result.recall_queries, "sampled document"), config.target_recall);
    else
      util::print_root(comm, "weave knn: ivf with nlist={} nprobe={} (recall not measured: --recall-sample 0)\n",
                       clusters, result.probe);
  }
  if (result.pairs_fraction > 0.1)
    util::warn_root(comm, "weave knn: warning: ivf scored {:.0f}% of all pairs (nprobe {} of {} clusters): the clusters do "
                          "not separate this corpus; a larger --nlist (about the number of topics) is usually far "
                          "cheaper, and --method exact costs little more\n",
                    100 * result.pairs_fraction, result.probe, clusters);
  if (result.recall >= 0 && result.recall < config.target_recall && config.nprobe == 0)
    util::warn_root(comm, "weave knn: warning: recall {:.4f} is below the target {} even with every cluster probed\n",
                    result.recall, config.target_recall);
  return lists;
}

}  // namespace

void run_knn_stage(const mpi::Comm& comm, const KnnConfig& config, const CommonOptions& common, util::Report& report) {
  mpi::collectively(comm, [&] { config.validate(); });
  // Before any work: a bad output path costs seconds, not the search (lists: an id and a float each).
  const corpus::CorpusInfo info = corpus::read_corpus_info(comm, config.corpus.path);
  mpi::collectively(comm, [&] { config.validate_for(info.num_docs); });
  io::check_output_path(comm, config.out, static_cast<double>(info.num_docs) * config.k * 12);
  // The ring's backend for the exact method, a block search (CPU or GPU) for ivf.
  const std::string method = config.resolved_method(info.num_docs);
  std::unique_ptr<SearchBackend> backend;
  std::unique_ptr<BlockSearch> block_search;
  if (method == "exact") mpi::collectively(comm, [&] { backend = make_backend(config, comm); });
  else mpi::collectively(comm, [&] { block_search = make_block_search(config.backend, comm, config.gpu_resident_rows); });

  auto read_timer = report.stage("read_corpus");
  const corpus::CorpusBlock block = corpus::read_corpus(comm, config.corpus);
  report.add_counter("corpus_bytes_read", block.bytes_read);
  read_timer.stop();
  const std::int64_t n = block.info.num_docs;
  if (n - 1 < config.k)
    util::warn_root(comm, "weave knn: warning: the corpus has {}, so each has fewer than k={} neighbours; the lists "
                          "are padded with id -1 and similarity NaN\n", util::count_of(n, "document"), config.k);

  KnnFileAttributes attributes{method, backend ? backend->name() : block_search->name(), to_json(config), {}, {}, {}, {}};
  auto search_timer = report.stage("search");
  const KnnLists lists = backend ? exact_ring_knn(comm, distributed_rows_of(block), ring_options(config, common.quiet), *backend, report)
                                 : approximate_knn(comm, block, config, *block_search, common.quiet, report, attributes);
  search_timer.stop();

  auto write_timer = report.stage("write");
  // The rows' sum, for the figures of a random order that `weave order` reports without reading
  // every row (knn/row_sum.hpp).
  RowSum row_sum(block.info.dim);
  for (std::int64_t i = 0; i < block.size(); ++i) row_sum.add(block.embedding(LocalId(i)));
  row_sum.sum_over(comm);
  attributes.row_sum = row_sum.units();
  write_knn_file(comm, config.out, block, lists, attributes);
  write_timer.stop();

  // Quality figures: mean similarity of the first and the k-th neighbour.
  util::ExactSum first_sum, last_sum;
  for (std::int64_t i = 0; i < block.size(); ++i) {
    const float a = lists.similarities[i * config.k];
    const float b = lists.similarities[i * config.k + config.k - 1];
    first_sum.add(std::isnan(a) ? 0 : a);
    last_sum.add(std::isnan(b) ? 0 : b);
  }
  const double first = util::ExactSum::value_of(comm.sum(first_sum.units())) / static_cast<double>(n);
  const double last = util::ExactSum::value_of(comm.sum(last_sum.units())) / static_cast<double>(n);
  report.set_figure("documents", n);
  report.set_figure("k", config.k);
  report.set_figure("mean_similarity_first_neighbor", first);
  report.set_figure("mean_similarity_kth_neighbor", last);
  if (!common.quiet)
    util::print_root(comm, "weave knn: wrote {} ({}, k={}, {} backend); mean similarity: first neighbour "
                           "{:.4f}, k-th {:.4f}\n", config.out, util::count_of(n, "document"), config.k, attributes.backend,
                     first, last);
}

}  // namespace weave::knn
