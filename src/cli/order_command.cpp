// `weave order`: one order of all documents in which neighbours are as similar as possible.
#include <memory>

#include "cli/commands.hpp"
#include "cli/option_flags.hpp"
#include "order/order_stage.hpp"
#include "util/config_json.hpp"
#include "util/config_options.hpp"

namespace weave::cli {

void add_order_command(CLI::App& app, Runner& run) {
  auto config = std::make_shared<OrderConfig>();
  auto common = std::make_shared<CommonOptions>();
  CLI::App* cmd = app.add_subcommand(
      "order", "Order all documents so that neighbours are similar: the greedy maximum-weight path cover of the kNN "
               "graph (distributed, equal to the sequential greedy), its paths stitched end to end by similarity; "
               "or the ICLM paper's traversal (--algorithm iclm, on rank 0). Reads the corpus's documents and "
               "only the embedding rows it uses: 1/16 of them for the corpus fingerprint, the path ends' for "
               "stitching (all of them with --on-zero-vector=drop).");
  cmd->add_option("--knn", config->knn, "kNN graph (knn.h5 from weave knn)")->required();
  cmd->add_option("--corpus", config->corpus.path, "The corpus the graph was made from")->required();
  cmd->add_option("--out", config->out, "Output order.h5")->required();
  add_option_flags(cmd, *config, order_options());
  cmd->add_option("--dedup", config->dedup,
                  "dedup.h5 from weave dedup: order only the documents it keeps (the order is a permutation of "
                  "them; weave pack then needs the same --dedup)");
  cmd->add_flag("--force", config->force,
                "Order even though knn.h5 records another corpus than --corpus (same number of documents): "
                "warns instead of stopping");
  add_corpus_options(cmd, config->corpus);
  add_common_options(cmd, *common);

  cmd->callback([&run, config, common] {
    run = [config, common](const mpi::Comm& comm) {
      run_stage_command(comm, "order", to_json(*config), *common,
                        [&](util::Report& report) { order::run_order_stage(comm, *config, *common, report); });
    };
  });
}

}  // namespace weave::cli
