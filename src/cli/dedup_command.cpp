// `weave dedup`: near-duplicate groups from the kNN graph; one document kept per group.
#include <memory>

#include "cli/commands.hpp"
#include "cli/option_flags.hpp"
#include "dedup/dedup_stage.hpp"
#include "util/config_json.hpp"
#include "util/config_options.hpp"

namespace weave::cli {

void add_dedup_command(CLI::App& app, Runner& run) {
  auto config = std::make_shared<DedupConfig>();
  auto common = std::make_shared<CommonOptions>();
  CLI::App* cmd = app.add_subcommand(
      "dedup", "Semantic deduplication from the kNN graph: documents joined by kNN edges of similarity >= --threshold "
               "form groups (connected components: chains of near-duplicates are caught); one document per group is "
               "kept (--keep), the others are marked removed in dedup.h5, which weave order and weave pack take "
               "(--dedup) to leave them out. Identical at any number of ranks.");
  cmd->add_option("--knn", config->knn, "kNN graph (knn.h5 from weave knn)")->required();
  cmd->add_option("--corpus", config->corpus.path, "The corpus the graph was made from (token lengths)")->required();
  cmd->add_option("--out", config->out, "Output dedup.h5")->required();
  add_option_flags(cmd, *config, dedup_options());
  cmd->add_flag("--force", config->force,
                "Use knn.h5 even though it records another corpus than --corpus (same number of documents): "
                "warns instead of stopping");
  add_corpus_options(cmd, config->corpus);
  add_common_options(cmd, *common);

  cmd->callback([&run, config, common] {
    run = [config, common](const mpi::Comm& comm) {
      run_stage_command(comm, "dedup", to_json(*config), *common,
                        [&](util::Report& report) { dedup::run_dedup_stage(comm, *config, *common, report); });
    };
  });
}

}  // namespace weave::cli
