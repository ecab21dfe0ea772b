// `weave knn`: the exact k-nearest-neighbour graph of a corpus (cosine similarity).
#include <memory>

#include "cli/commands.hpp"
#include "cli/option_flags.hpp"
#include "knn/knn_stage.hpp"
#include "util/config_json.hpp"
#include "util/config_options.hpp"

namespace weave::cli {

void add_knn_command(CLI::App& app, Runner& run) {
  auto config = std::make_shared<KnnConfig>();
  auto common = std::make_shared<CommonOptions>();
  CLI::App* cmd = app.add_subcommand(
      "knn", "Compute every document's k most similar documents (cosine) across all ranks: exactly (each rank "
             "keeps its rows as queries while the others' rows travel around the ring of ranks) or approximately "
             "for large corpora (--method ivf: a distributed inverted file, recall measured).");
  cmd->add_option("--corpus", config->corpus.path, "Corpus HDF5 file or manifest of shards")->required();
  cmd->add_option("--out", config->out, "Output knn.h5")->required();
  add_option_flags(cmd, *config, knn_options());
  add_corpus_options(cmd, config->corpus);
  cmd->get_option("--max-block-rows")
      ->description("Rows per HDF5 read and per block travelling the ring (bounds memory: own rows + 2 blocks)");
  add_common_options(cmd, *common);

  cmd->callback([&run, config, common] {
    run = [config, common](const mpi::Comm& comm) {
      run_stage_command(comm, "knn", to_json(*config), *common,
                        [&](util::Report& report) { knn::run_knn_stage(comm, *config, *common, report); });
    };
  });
}

}  // namespace weave::cli
