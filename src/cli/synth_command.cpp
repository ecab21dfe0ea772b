// `weave synth`: writes a synthetic corpus in the input format (docs/format.md).
#include <memory>

#include "cli/commands.hpp"
#include "cli/option_flags.hpp"
#include "corpus/synth.hpp"
#include "mpi/collective_error.hpp"
#include "util/config_json.hpp"
#include "util/config_options.hpp"
#include "util/log.hpp"
#include "util/report.hpp"

namespace weave::cli {

void add_synth_command(CLI::App& app, Runner& run) {
  auto config = std::make_shared<SynthConfig>();
  auto common = std::make_shared<CommonOptions>();
  CLI::App* cmd = app.add_subcommand(
      "synth",
      "Generate a synthetic corpus: topic clusters of embeddings, a share of near-duplicates, log-normal "
      "(heavy-tailed) token lengths, /sources and /topics. Identical for any number of ranks.");
  cmd->add_option("--out", config->out, "Output HDF5 file")->required();
  add_option_flags(cmd, *config, synth_options());
  add_common_options(cmd, *common);

  cmd->callback([&run, config, common] {
    run = [config, common](const mpi::Comm& comm) {
      print_configuration(comm, "synth", to_json(*config), *common);
      check_report_path(comm, *common);
      util::Report report(comm, "synth");
      report.set_config(to_json(*config));
      corpus::write_synth_corpus(comm, *config, common->quiet, report);
      report.set_figure("documents", config->docs);
      mpi::collectively(comm, [&] { report.write(common->report_path); });
      if (!common->quiet)
        util::print_root(comm, "weave synth: wrote {} ({}, d={}, {}, {})\n", config->out,
                         util::count_of(config->docs, "document"), config->dim,
                         util::count_of(config->topics, "topic"), to_string(config->dtype));
    };
  });
}

}  // namespace weave::cli
