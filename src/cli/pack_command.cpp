// `weave pack`: cut the ordered documents into fixed-length training contexts (contexts.h5).
#include <memory>

#include "cli/commands.hpp"
#include "cli/option_flags.hpp"
#include "pack/pack_stage.hpp"
#include "util/config_json.hpp"
#include "util/config_options.hpp"

namespace weave::cli {

void add_pack_command(CLI::App& app, Runner& run) {
  auto config = std::make_shared<PackConfig>();
  auto common = std::make_shared<CommonOptions>();
  CLI::App* cmd = app.add_subcommand(
      "pack", "Turn the document order into training contexts of L tokens: split (ICLM: the stream is cut every L "
              "tokens) or pad (Llama 2 Long: whole documents, right-padded), with long-document upsampling and "
              "source weights; write the context index (contexts.h5) a trainer reads with h5py (docs/format.md, "
              "docs/examples/read_contexts.py).");
  cmd->add_option("--order", config->order, "Document order (order.h5 from weave order)")->required();
  cmd->add_option("--corpus", config->corpus.path, "The corpus (token lengths, user ids)")->required();
  cmd->add_option("--out", config->out, "Output contexts.h5; with several lengths contexts.L.h5 each")->required();
  add_option_flags(cmd, *config, pack_options());
  cmd->add_option("--dataset", config->dataset,
                  "Also write a Megatron-LM indexed dataset PREFIX with one sequence of L tokens per context "
                  "(PREFIX.L per length when several): one GPTDataset sample of seq_length L each (needs --tokens)");
  cmd->add_option("--dedup", config->dedup,
                  "dedup.h5 from weave dedup: leave out the documents it removes (the order may be of the whole "
                  "corpus or, made with weave order --dedup, of the kept documents)");
  cmd->add_flag("--force", config->force,
                "Pack even though order.h5 records another corpus than --corpus (same number of documents): "
                "warns instead of stopping");
  add_corpus_options(cmd, config->corpus);
  add_common_options(cmd, *common);

  cmd->callback([&run, config, common] {
    run = [config, common](const mpi::Comm& comm) {
      run_stage_command(comm, "pack", to_json(*config), *common,
                        [&](util::Report& report) { pack::run_pack_stage(comm, *config, *common, report); });
    };
  });
}

}  // namespace weave::cli
