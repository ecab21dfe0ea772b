// `weave inspect`: validates a whole corpus (every check of docs/format.md) and prints a summary.
#include <memory>

#include "cli/commands.hpp"
#include "cli/option_flags.hpp"
#include "util/config_options.hpp"
#include "corpus/corpus.hpp"
#include "corpus/summary.hpp"
#include "inspect/output_summaries.hpp"
#include "mpi/collective_error.hpp"
#include "util/config_json.hpp"
#include "util/log.hpp"
#include "util/report.hpp"

namespace weave::cli {

void add_corpus_options(CLI::App* cmd, CorpusOptions& options) { add_option_flags(cmd, options, corpus_options()); }

void add_inspect_command(CLI::App& app, Runner& run) {
  auto options = std::make_shared<CorpusOptions>();
  auto common = std::make_shared<CommonOptions>();
  auto json = std::make_shared<bool>(false);
  CLI::App* cmd = app.add_subcommand(
      "inspect", "Validate a file and print its summary. A corpus (HDF5 file or manifest of shards): documents, "
                 "dimension, dtype, token total and length percentiles, sources, topics. knn.h5: similarities, "
                 "missing neighbours, hubs. order.h5: permutation check, paths, link similarity, the quality "
                 "recorded by weave order. dedup.h5: documents kept and removed, groups by size, the largest "
                 "groups' first documents, tokens removed. contexts.h5: contexts, segments, padding share, segments per context, "
                 "the first contexts' documents and cu_seqlens, "
                 "totals, topic purity per context (with --corpus). A token store (Megatron indexed dataset, "
                 "PREFIX.idx + PREFIX.bin): sequences, tokens, dtype, lengths; with --corpus, checked against it "
                 "(one sequence per corpus row, lengths equal to /lengths); with --eod-id, the document boundaries of "
                 "its first sequences (a dataset written by weave pack --dataset).");
  auto corpus_for_contexts = std::make_shared<std::string>();
  cmd->add_option("file", options->path,
                  "Corpus (HDF5 file or manifest), knn.h5, order.h5, contexts.h5 or a token store (PREFIX.idx)")
      ->required();
  cmd->add_option("--corpus", *corpus_for_contexts,
                  "For contexts.h5: the corpus, to report topic purity per context; for a token store: the corpus "
                  "it must match");
  add_corpus_options(cmd, *options);
  auto eod_id = std::make_shared<std::int64_t>(-1);
  cmd->add_option("--eod-id", *eod_id,
                  "For a dataset written by weave pack --dataset (a token store with one sequence per context): "
                  "the EOD token id it was written with, to show the document boundaries (cu_seqlens) of its "
                  "first sequences")
      ->check(CLI::NonNegativeNumber);
  cmd->add_flag("--json", *json, "Print the summary as JSON (for machines)");
  add_common_options(cmd, *common);

  cmd->callback([&run, options, common, json, corpus_for_contexts, eod_id] {
        run = [options, common, json, corpus_for_contexts, eod_id](const mpi::Comm& comm) {
      CommonOptions effective = *common;
      effective.quiet = effective.quiet || *json;  // JSON on stdout stays parseable
      print_configuration(comm, "inspect", to_json(*options), effective);
      check_report_path(comm, *common);
      inspect::InspectedFile inspected = inspect::open_inspected(comm, options->path);
      const std::string& kind = inspected.kind;
      if (kind != "corpus") {
        util::Report report(comm, "inspect");
        CorpusOptions corpus = *options;
        corpus.path = *corpus_for_contexts;
        auto timer = report.stage("summary");
        const CorpusOptions* with_corpus = corpus.path.empty() ? nullptr : &corpus;
        const nlohmann::json summary =
            kind == "knn"      ? inspect::summarize_knn(comm, std::move(*inspected.file))
            : kind == "order"  ? inspect::summarize_order(comm, std::move(*inspected.file))
            : kind == "dedup"  ? inspect::summarize_dedup(comm, std::move(*inspected.file))
            : kind == "tokens" ? inspect::summarize_tokens(comm, options->path, with_corpus, *eod_id)
                               : inspect::summarize_contexts(comm, std::move(*inspected.file), with_corpus);
        timer.stop();
        report.set_figure("summary", summary);
        mpi::collectively(comm, [&] { report.write(common->report_path); });
        util::print_root(comm, "{}", *json ? summary.dump(2) + "\n" : inspect::to_text(options->path, summary));
        return;
      }
      util::Report report(comm, "inspect");
      report.set_config(to_json(*options));
      auto timer = report.stage("read_and_validate");
      const corpus::CorpusBlock block = corpus::read_corpus(comm, *options);
      timer.stop();
      auto summary_timer = report.stage("summary");
      const corpus::CorpusSummary summary = corpus::summarize(comm, block);
      summary_timer.stop();
      report.set_figure("summary", summary.to_json());
      mpi::collectively(comm, [&] { report.write(common->report_path); });
      if (*json) util::print_root(comm, "{}\n", summary.to_json().dump(2));
      else util::print_root(comm, "{}", summary.to_text(block.info));
    };
  });
}

}  // namespace weave::cli
