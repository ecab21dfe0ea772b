#include "dedup/dedup_stage.hpp"

#include <fmt/format.h>

#include "corpus/corpus.hpp"
#include "corpus/metadata.hpp"
#include "corpus/provenance.hpp"
#include "dedup/dedup_file.hpp"
#include "dedup/duplicate_groups.hpp"
#include "io/atomic_output.hpp"
#include "knn/knn_file.hpp"
#include "mpi/ask_owners.hpp"
#include "mpi/collective_error.hpp"
#include "util/config_json.hpp"
#include "util/log.hpp"
#include "util/report.hpp"

namespace weave::dedup {

void run_dedup_stage(const mpi::Comm& comm, const DedupConfig& config, const CommonOptions& common,
                     util::Report& report) {
  mpi::collectively(comm, [&] { config.validate(); });
  // Before any work: the output path (a kept flag, a representative and a group size: 17 bytes a document).
  const corpus::CorpusInfo info = corpus::read_corpus_info(comm, config.corpus.path);
  io::check_output_path(comm, config.out, static_cast<double>(info.num_docs) * 17);
  auto read_timer = report.stage("read");
  // Token lengths only (the longest document of a group is kept); the similarities come from knn.h5.
  const corpus::CorpusBlock corpus = corpus::read_corpus(comm, config.corpus, corpus::Columns::kDocuments);
  report.add_counter("corpus_bytes_read", corpus.bytes_read);
  const knn::KnnFileBlock knn =
      knn::read_knn_file_for(comm, config.knn, corpus.info, corpus::Compared::kDocuments, config.force);
  read_timer.stop();

  auto group_timer = report.stage("groups");
  const DuplicateGroups groups = find_duplicate_groups(comm, corpus.info.num_docs, corpus.range, knn.lists,
                                                       corpus.lengths, config.threshold, parse_keep_rule(to_string(config.keep)));
  group_timer.stop();
  // The largest groups' first documents also by the corpus's own ids, when it has /doc_ids.
  nlohmann::json largest = groups.largest;
  if (corpus.info.has_doc_ids) {
    std::vector<std::int64_t> ids;
    for (const auto& g : largest)
      for (const auto& id : g["first_members"]) ids.push_back(id.get<std::int64_t>());
    const auto user_ids = mpi::ask_owners<std::int64_t>(
        comm, ids, 1, [&](std::int64_t id) { return block_owner(corpus.info.num_docs, comm.size(), GlobalId(id)); },
        [&](std::int64_t id, std::int64_t* answer) { *answer = corpus.doc_ids[id - corpus.range.begin]; });
    std::size_t at = 0;
    for (auto& g : largest) {
      std::vector<std::int64_t> mine;
      for (std::size_t m = 0; m < g["first_members"].size(); ++m) mine.push_back(user_ids[at++]);
      g["first_members_doc_ids"] = mine;
    }
  }
  std::int64_t tokens = 0;
  for (auto l : corpus.lengths) tokens += l;
  const std::int64_t total_tokens = comm.sum(tokens);
  const nlohmann::json figures = {{"threshold", config.threshold},
                                  {"keep", to_string(config.keep)},
                                  {"documents", corpus.info.num_docs},
                                  {"k", knn.k},
                                  {"edges_at_threshold", groups.edges},
                                  {"groups", groups.groups},
                                  {"kept_documents", corpus.info.num_docs - groups.removed_documents},
                                  {"removed_documents", groups.removed_documents},
                                  {"removed_tokens", groups.removed_tokens},
                                  {"total_tokens", total_tokens},
                                  {"component_iterations", groups.iterations},
                                  {"group_size_histogram", groups.size_histogram},
                                  {"largest_groups", largest}};
  for (const auto& [key, value] : figures.items()) report.set_figure(key, value);
  report.set_figure("graph_seconds", groups.graph_seconds);  // report only: a file does not hold times
  report.set_figure("component_seconds", groups.component_seconds);

  auto write_timer = report.stage("write");
  nlohmann::json attributes = figures;
  attributes.erase("documents");  // num_docs, written by the file itself
  attributes["configuration"] = to_json(config).dump();
  attributes["corpus"] = corpus::corpus_record(corpus.info).dump();
  attributes["knn"] = nlohmann::json{{"path", config.knn}, {"k", knn.k}, {"corpus", knn.corpus}}.dump();
  write_dedup_file(comm, config.out, corpus.info.num_docs, corpus.range, groups, attributes);
  write_timer.stop();

  if (!common.quiet)
    util::print_root(comm,
                     "weave dedup: wrote {}: threshold {}: {} of near-duplicates ({} edges at or above it), {} "
                     "removed ({:.2f}%), {} removed of {}; kept by rule {}\n",
                     config.out, config.threshold, util::count_of(groups.groups, "group"), groups.edges,
                     util::count_of(groups.removed_documents, "document"),
                     100.0 * static_cast<double>(groups.removed_documents) / static_cast<double>(corpus.info.num_docs),
                     util::count_of(groups.removed_tokens, "token"), util::count_of(total_tokens, "token"), to_string(config.keep));
}

}  // namespace weave::dedup
