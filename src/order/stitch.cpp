#include "order/stitch.hpp"

#include <algorithm>

#include "knn/cpu/cpu_backend.hpp"
#include "knn/exact_ring.hpp"
#include "mpi/ask_owners.hpp"
#include "order/list_ranking.hpp"
#include "util/log.hpp"
#include "util/report.hpp"
#include "weave/error.hpp"

namespace weave::order {

namespace {

int degree_of(const std::vector<std::int64_t>& links, std::int64_t i) {
  return (links[2 * i] >= 0 ? 1 : 0) + (links[2 * i + 1] >= 0 ? 1 : 0);
}

/// Translates dense end numbers (rank r holds [offsets[r], offsets[r+1])) to document ids.
std::vector<std::int64_t> dense_to_doc(const mpi::Comm& comm, const std::vector<std::int64_t>& offsets,
                                       const std::vector<std::int64_t>& my_docs, const std::vector<std::int64_t>& dense) {
  auto owner = [&](std::int64_t x) {
    return x < 0 ? -1 : static_cast<int>(std::upper_bound(offsets.begin(), offsets.end(), x) - offsets.begin()) - 1;
  };
  auto out = mpi::ask_owners<std::int64_t>(comm, dense, 1, owner, [&](std::int64_t x, std::int64_t* doc) {
    *doc = my_docs[x - offsets[comm.rank()]];
  });
  for (std::size_t j = 0; j < dense.size(); ++j)
    if (dense[j] < 0) out[j] = -1;
  return out;
}

}  // namespace

StitchStats stitch_paths(const mpi::Comm& comm, const corpus::CorpusBlock& corpus, std::vector<std::int64_t>& links,
                         int stitch_k, const GreedyOptions& options, util::Report& report) {
  const std::int64_t n = corpus.info.num_docs, d = corpus.info.dim;
  const BlockRange range = corpus.range;
  StitchStats stats;
  int k = std::max(2, stitch_k);
  while (true) {
    const std::vector<PathPosition> pos = rank_paths(comm, n, range, links);
    std::int64_t starts = 0;
    for (const auto& p : pos) starts += p.position == 0 ? 1 : 0;
    const std::int64_t paths = comm.sum(starts);
    if (paths <= 1) break;
    stats.paths_per_level.push_back(paths);
    ++stats.levels;

    // The ends of every path, renumbered densely (rank order, then id order), with their rows.
    std::vector<std::int64_t> end_docs;
    InitialPaths initial;
    initial.degree.resize(static_cast<std::size_t>(range.size()));
    initial.partner.resize(static_cast<std::size_t>(range.size()));
    for (std::int64_t i = 0; i < range.size(); ++i) {
      const std::int64_t doc = range.begin + i;
      initial.degree[i] = static_cast<std::int8_t>(degree_of(links, i));
      initial.partner[i] = pos[i].start == doc ? pos[i].other_end : pos[i].start;
      if (initial.degree[i] < 2) end_docs.push_back(doc);
    }
    const auto local_ends = static_cast<std::int64_t>(end_docs.size());
    const std::int64_t first = comm.exscan_sum(local_ends);
    const std::int64_t total_ends = comm.sum(local_ends);
    if (options.progress)
      util::print_root(comm, "[order] stitch level {}: {} paths, exact kNN among their {} ends\n", stats.levels, paths,
                       total_ends);
    std::vector<std::int64_t> offsets = comm.allgather<std::int64_t>(first);
    offsets.push_back(total_ends);

    corpus::CorpusBlock ends;
    ends.info.num_docs = total_ends;
    ends.info.dim = corpus.info.dim;
    ends.range = {first, first + local_ends};
    ends.embeddings.resize(static_cast<std::size_t>(local_ends * d));
    for (std::int64_t e = 0; e < local_ends; ++e)
      std::copy_n(corpus.embeddings.data() + (end_docs[e] - range.begin) * d, d, ends.embeddings.data() + e * d);

    KnnConfig config;
    config.k = static_cast<int>(std::min<std::int64_t>(k, total_ends - 1));
    knn::CpuBackend backend(comm, config.query_tile, config.database_tile);
    const knn::KnnLists lists = knn::exact_ring_knn(comm, ends, config, backend, /*quiet=*/true, report);
    const auto neighbor_docs = dense_to_doc(comm, offsets, end_docs, lists.neighbors);

    const LocalGraph graph = build_graph_from_lists(comm, n, range, end_docs, config.k, neighbor_docs, lists.similarities);
    GreedyOptions quiet_options = options;
    quiet_options.progress = false;
    const PathCover cover = greedy_path_cover(comm, graph, quiet_options, initial);
    for (std::int64_t i = 0; i < range.size(); ++i)
      for (int s = initial.degree[i]; s < 2; ++s)
        if (cover.links[2 * i + s] >= 0) links[2 * i + s] = cover.links[2 * i + s];
    stats.edges += cover.stats.accepted_total;
    // The heaviest edge between ends of different paths is always in a list when k >= 2, so a
    // level cannot stall; widening k is only a guard.
    if (cover.stats.accepted_total == 0) k *= 2;
    WEAVE_ASSERT(stats.levels < 200, "stitching made no progress");
  }
  return stats;
}

}  // namespace weave::order
