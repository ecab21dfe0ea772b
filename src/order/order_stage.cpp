#include "order/order_stage.hpp"

#include <optional>

#include <fmt/format.h>

#include "corpus/corpus.hpp"
#include "corpus/metadata.hpp"
#include "corpus/provenance.hpp"
#include "corpus/row_reader.hpp"
#include "dedup/dedup_file.hpp"
#include "dedup/kept_subset.hpp"
#include "io/atomic_output.hpp"
#include "knn/knn_file.hpp"
#include "knn/row_sum.hpp"
#include "mpi/collective_error.hpp"
#include "order/greedy.hpp"
#include "order/iclm.hpp"
#include "order/knn_graph.hpp"
#include "order/list_ranking.hpp"
#include "order/order_file.hpp"
#include "order/quality.hpp"
#include "order/stitch.hpp"
#include "util/config_json.hpp"
#include "util/log.hpp"
#include "util/memory.hpp"
#include "util/release.hpp"
#include "util/report.hpp"

namespace weave::order {

namespace {

struct Ordered {
  std::vector<std::int64_t> order_block;  ///< documents at positions block_range(N, P, rank)
  std::vector<std::int64_t> boundaries;   ///< positions where a new greedy path / ICLM walk starts
  nlohmann::json figures;
  std::vector<StitchedLink> stitched;     ///< greedy: the links stitching made, with their similarities
};

/// Routes (position, document) pairs to the owners of the positions.
std::vector<std::int64_t> place(const mpi::Comm& comm, std::int64_t n, const std::vector<std::int64_t>& pairs) {
  std::vector<std::vector<std::int64_t>> send(static_cast<std::size_t>(comm.size()));
  for (std::size_t x = 0; x + 1 < pairs.size(); x += 2) {
    auto& box = send[block_owner(n, comm.size(), GlobalId(pairs[x]))];
    box.insert(box.end(), {pairs[x], pairs[x + 1]});
  }
  const BlockRange mine = block_range(n, comm.size(), comm.rank());
  std::vector<std::int64_t> block(static_cast<std::size_t>(mine.size()), -1);
  for (const auto& part : comm.alltoallv(send))
    for (std::size_t x = 0; x + 1 < part.size(); x += 2) block[part[x] - mine.begin] = part[x + 1];
  for (auto doc : block) WEAVE_ASSERT(doc >= 0, "order: a position received no document");
  return block;
}

/// Positions (> 0) sorted and held by the owner of each position.
std::vector<std::int64_t> route_positions(const mpi::Comm& comm, std::int64_t n, const std::vector<std::int64_t>& pos) {
  std::vector<std::vector<std::int64_t>> send(static_cast<std::size_t>(comm.size()));
  for (auto p : pos) send[block_owner(n, comm.size(), GlobalId(p))].push_back(p);
  std::vector<std::int64_t> out;
  for (const auto& part : comm.alltoallv(send)) out.insert(out.end(), part.begin(), part.end());
  std::sort(out.begin(), out.end());
  return out;
}

Ordered greedy_order(const mpi::Comm& comm, const corpus::CorpusBlock& corpus, corpus::RowReader& rows,
                     const LocalGraph& graph, const OrderConfig& config, bool quiet, util::Report& report) {
  const std::int64_t n = corpus.info.num_docs;
  GreedyOptions options{config.tail_fraction, config.max_rounds, !quiet};
  options.local_pass_share = config.local_pass_share;
  auto greedy_timer = report.stage("greedy");
  PathCover cover = greedy_path_cover(comm, graph, options);
  greedy_timer.stop();
  // The greedy's links (kept to tell greedy paths from stitched links) and the working copies
  // stitching extends; the cover's own arrays are freed, not held beside them to the end.
  const std::vector<std::int64_t> greedy_links(cover.links.begin(), cover.links.end());
  util::release(cover.links);
  auto stitch_timer = report.stage("stitch");
  std::vector<std::int64_t> links = greedy_links;
  std::vector<std::int64_t> partner(cover.partner.begin(), cover.partner.end());
  util::release(cover.partner);
  Ordered out;
  const StitchStats stitch = stitch_paths(comm, corpus, rows, graph, links, partner, config.stitch_k,
                                          config.stitch_exact_ends, options, report, &out.stitched);
  stitch_timer.stop();

  auto place_timer = report.stage("place");
  const std::vector<PathPosition> pos = rank_paths(comm, n, corpus.range, links);
  std::vector<std::int64_t> pairs, starts;
  for (std::int64_t i = 0; i < corpus.size(); ++i) {
    pairs.insert(pairs.end(), {pos[i].position, corpus.range.begin + i});
    const std::int64_t pred = pos[i].predecessor;
    if (pos[i].position > 0 && pred != greedy_links[2 * i] && pred != greedy_links[2 * i + 1])
      starts.push_back(pos[i].position);  // joined by stitching: a greedy path starts here
  }
  out.order_block = place(comm, n, pairs);
  out.boundaries = route_positions(comm, n, starts);
  place_timer.stop();

  out.figures["rounds"] = cover.stats.rounds;
  out.figures["accepted_per_round"] = cover.stats.accepted_per_round;
  out.figures["greedy_edges"] = cover.stats.accepted_total;
  out.figures["accepted_locally"] = cover.stats.accepted_locally;
  out.figures["greedy_local_slot_share"] = cover.stats.local_slot_share;
  out.figures["greedy_local_pass"] = cover.stats.local_pass;
  out.figures["tail_edges"] = cover.stats.tail_edges_in;
  out.figures["tail_edges_accepted"] = cover.stats.tail_accepted;
  out.figures["tail_batches"] = cover.stats.tail_batches;
  out.figures["tail_largest_batch"] = cover.stats.tail_largest_batch;
  out.figures["greedy_peak_edges_max"] = cover.stats.peak_edges_max;
  out.figures["greedy_peak_edges_mean"] = cover.stats.peak_edges_mean;
  out.figures["messages"] = cover.stats.messages;
  out.figures["greedy_paths"] = n - cover.stats.accepted_total;
  nlohmann::json levels = nlohmann::json::array();
  std::vector<std::int64_t> paths_per_level;
  for (const StitchLevel& l : stitch.levels) {
    paths_per_level.push_back(l.paths);
    levels.push_back({{"method", l.method}, {"reach", l.reach}, {"paths", l.paths}, {"ends", l.ends},
                      {"candidates", l.candidates}, {"sketches_fetched", l.sketches_fetched}, {"rows_fetched", l.rows_fetched},
                      {"largest_meeting", l.largest_meeting}, {"accepted", l.accepted}, {"seconds", l.seconds},
                      {"read_seconds", l.read_seconds},
                      {"candidate_seconds", l.candidate_seconds}, {"score_seconds", l.score_seconds},
                      {"join_seconds", l.join_seconds}});
  }
  out.figures["stitch_levels"] = static_cast<int>(stitch.levels.size());
  out.figures["stitch_paths_per_level"] = paths_per_level;
  out.figures["stitch_level_details"] = levels;
  out.figures["stitch_edges"] = stitch.edges;
  return out;
}

Ordered iclm(const mpi::Comm& comm, const corpus::CorpusBlock& corpus, const LocalGraph& graph, util::Report& report) {
  auto timer = report.stage("iclm");
  const std::int64_t n = corpus.info.num_docs;
  const IclmOrder walk = iclm_order(comm, graph);
  std::vector<std::int64_t> pairs;
  for (std::size_t p = 0; p < walk.order.size(); ++p) pairs.insert(pairs.end(), {static_cast<std::int64_t>(p), walk.order[p]});
  Ordered out;
  out.order_block = place(comm, n, pairs);
  if (comm.is_root()) out.boundaries.assign(walk.restarts.begin() + 1, walk.restarts.end());
  out.figures["walks"] = comm.bcast_value<std::int64_t>(static_cast<std::int64_t>(walk.restarts.size()), 0);
  return out;
}

}  // namespace

void run_order_stage(const mpi::Comm& comm, const OrderConfig& config, const CommonOptions& common,
                     util::Report& report) {
  mpi::collectively(comm, [&] { config.validate(); });
  // Before any work: the output path (order, link similarity and path starts: ~16 bytes a document).
  const corpus::CorpusInfo info = corpus::read_corpus_info(comm, config.corpus.path);
  // The greedy's and the graph's messages name a document by its index in its owner's block, in
  // 31 bits (order/greedy.cpp).
  mpi::collectively(comm, [&] {
    constexpr std::int64_t kMostPerRank = (std::int64_t{1} << 31) - 1;
    if ((info.num_docs + comm.size() - 1) / comm.size() > kMostPerRank)
      throw UserError(fmt::format("{}: {} on {} is more than {} a rank; run with at least {} ranks",
                                  config.corpus.path, util::count_of(info.num_docs, "document"),
                                  util::count_of(comm.size(), "rank"), kMostPerRank,
                                  (info.num_docs + kMostPerRank - 1) / kMostPerRank));
  });
  // Freed memory is kept for reuse (util/memory.hpp), at any size. The stages' large arrays (from
  // ~2^18 documents a rank the graph's slots) outgrow glibc's 32 MiB mmap threshold and would come
  // back as fresh pages, faulted in by the kernel, each time they are freed and made again; and the
  // exchange buffers of a few MiB that stitching makes level after level grow a little each time,
  // so glibc's moving threshold maps each anew too: on 2 ranks of 50,000 documents (synthetic
  // 100k x 768) the first level's exchanges took twice as long as with the pages reused (stitching
  // 0.075-0.080 -> 0.067-0.068 s). Each unmap also takes the process's memory lock while its peers
  // read from it (Open MPI's single-copy reads): on 16 ranks of 125,000 documents (2M x 768) the
  // first stitching level took 2.5 s with the unmaps, 1.6 s without. What it costs in memory, at 64
  // ranks of 20,000 documents: the largest rank's peak 80.7 -> 84.3 MiB (59.1 -> 61.6 over TCP).
  util::keep_freed_memory();
  io::check_output_path(comm, config.out, static_cast<double>(info.num_docs) * 16);
  auto read_timer = report.stage("read");
  // The documents' columns only: the embeddings are read where they are needed (the path ends'
  // rows for stitching, the stitched links' rows for the quality figures), by `rows` below. So the
  // kNN file is matched to the corpus by its documents (as pack does), not by the embeddings.
  corpus::CorpusBlock whole = corpus::read_corpus(comm, config.corpus, corpus::Columns::kDocuments);
  double bytes_read = whole.bytes_read;
  {
    // The content fingerprint from the sampled rows (1/16 of them), to match the kNN file's.
    corpus::RowReader sampled(comm, whole, config.corpus);
    corpus::fingerprint_sampled_rows(comm, whole, sampled);
    report.add_counter("embedding_rows_read_fingerprint", static_cast<double>(sampled.rows_read()));
    bytes_read += sampled.bytes_read();
  }
  knn::KnnFileBlock knn =
      knn::read_knn_file_for(comm, config.knn, whole.info, corpus::Compared::kContent, config.force);
  const nlohmann::json corpus_record = corpus::corpus_record(whole.info);  // the whole corpus, deduplicated or not
  // With --dedup: the kept documents become a corpus of their own (ids 0..K-1, their lists among
  // themselves); the order is made of them and named by whole-corpus ids again when written.
  std::optional<dedup::KeptSubset> kept;
  nlohmann::json dedup_record;
  if (!config.dedup.empty()) {
    const dedup::DedupBlock d = dedup::read_dedup_file(comm, config.dedup, whole.info.num_docs);
    corpus::check_made_from(comm, config.dedup, d.corpus, whole.info, corpus::Compared::kDocuments,
                            corpus::forced(config.force));
    dedup_record = {{"path", config.dedup}, {"threshold", d.threshold}, {"kept_documents", d.kept_documents},
                    {"removed_documents", whole.info.num_docs - d.kept_documents}};
    kept.emplace(dedup::keep_documents(comm, std::move(whole), knn.lists, d.kept));
  }
  const corpus::CorpusBlock& corpus = kept ? kept->corpus : whole;
  const LocalGraph graph = build_knn_graph(comm, corpus.info.num_docs, corpus.range, kept ? kept->lists : knn.lists);
  // The lists are in the graph now: their 12 bytes a slot (600 MB a rank at 10^7 documents on 2
  // ranks) go back to the allocator for the greedy's state instead of staying to the end.
  knn.lists = {};
  if (kept) kept->lists = {};
  read_timer.stop();

  corpus::RowReader rows(comm, corpus, config.corpus);
  Ordered ordered = config.algorithm == OrderAlgorithm::kIclm
                        ? iclm(comm, corpus, graph, report)
                        : greedy_order(comm, corpus, rows, graph, config, common.quiet, report);
  const std::int64_t stitch_rows_read = rows.rows_read();
  const double stitch_read_seconds = rows.seconds();
  auto quality_timer = report.stage("quality");
  // knn.h5's row sum is this corpus's when the file records this very corpus (not one forced on
  // it) and no document was removed by --dedup.
  std::optional<knn::RowSum> row_sum;
  const std::string recorded_fingerprint =
      knn.corpus.is_object() ? knn.corpus.value("fingerprint", std::string()) : std::string();
  if (!kept && knn.row_sum.size() == static_cast<std::size_t>(corpus.info.dim) + 1 &&
      recorded_fingerprint == corpus.info.fingerprint)
    row_sum = knn::RowSum::from_units(knn.row_sum);
  const OrderQuality quality = measure_order(comm, corpus, rows, ordered.stitched, row_sum ? &*row_sum : nullptr,
                                             graph, ordered.order_block);
  util::release(ordered.stitched);
  quality_timer.stop();
  report.add_counter("embedding_rows_read_stitch", static_cast<double>(stitch_rows_read));
  report.add_counter("embedding_rows_read_quality", static_cast<double>(rows.rows_read() - stitch_rows_read));
  // Reading files inside the stitch and quality stages, timed apart (benchmarks leave it out).
  report.add_counter("embedding_read_seconds_stitch", stitch_read_seconds);
  report.add_counter("embedding_read_seconds_quality", rows.seconds() - stitch_read_seconds);
  report.add_counter("corpus_bytes_read", bytes_read + rows.bytes_read());
  nlohmann::json figures = ordered.figures;
  figures.update(quality.figures);
  for (const auto& [key, value] : figures.items()) report.set_figure(key, value);

  auto write_timer = report.stage("write");
  // The file keeps what the order is, not how long it took: the same run writes the same file
  // (the seconds of each stitching level stay in the report).
  nlohmann::json file_figures = figures;
  if (file_figures.contains("stitch_level_details"))
    for (auto& level : file_figures["stitch_level_details"])
      for (const char* timing : {"seconds", "read_seconds", "candidate_seconds", "score_seconds", "join_seconds"})
        level.erase(timing);
  nlohmann::json attributes = {{"algorithm", to_string(config.algorithm)}, {"configuration", to_json(config).dump()},
                               {"quality", file_figures.dump()}, {"corpus", corpus_record.dump()},
                               {"knn", nlohmann::json{{"path", config.knn}, {"k", knn.k}, {"corpus", knn.corpus}}.dump()}};
  const auto& adjacent = quality.figures["adjacent"];
  attributes["mean_link_similarity"] = adjacent["mean_similarity"];
  attributes["knn_edge_share"] = adjacent["knn_edge_share"];
  if (figures.contains("rounds")) attributes["rounds"] = figures["rounds"];
  if (kept) {
    attributes["dedup"] = dedup_record.dump();
    ordered.order_block = dedup::original_ids_of(comm, *kept, ordered.order_block);
  }
  write_order_file(comm, config.out, corpus.info.num_docs, ordered.order_block, quality.link_similarity,
                   ordered.boundaries, attributes);
  write_timer.stop();

  if (!common.quiet) {
    const auto& random = quality.figures["random_pairs"];
    std::string line = fmt::format(
        "weave order: wrote {} ({}, {}): mean adjacent similarity {:.4f} (random pairs {:.4f}), kNN-edge "
        "share {:.3f}, kNN weight / path-cover bound {:.3f}",
        config.out, util::count_of(corpus.info.num_docs, "document"), to_string(config.algorithm), adjacent["mean_similarity"].get<double>(),
        random["mean_similarity"].get<double>(), adjacent["knn_edge_share"].get<double>(),
        quality.figures["knn_weight_to_bound"].get<double>());
    if (adjacent.contains("topic_purity"))
      line += fmt::format(", topic purity {:.3f} (random {:.3f})", adjacent["topic_purity"].get<double>(),
                          random["topic_purity"].get<double>());
    if (figures.contains("rounds"))
      line += fmt::format("; {} greedy rounds, {} tail edges in {} batches, {} stitch levels", figures["rounds"].get<int>(),
                          figures["tail_edges"].get<std::int64_t>(), figures["tail_batches"].get<std::int64_t>(),
                          figures["stitch_levels"].get<int>());
    util::print_root(comm, "{}\n", line);
  }
}

}  // namespace weave::order
