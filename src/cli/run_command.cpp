// `weave run [CONFIG.toml]`: the whole pipeline, resumable (src/run/pipeline.hpp).
#include <fstream>
#include <memory>
#include <sstream>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "mpi/collective_error.hpp"
#include "run/pipeline.hpp"

namespace weave::cli {

void add_run_command(CLI::App& app, Runner& run) {
  auto path = std::make_shared<std::string>();
  auto overrides = std::make_shared<std::vector<std::string>>();
  auto common = std::make_shared<CommonOptions>();
  auto print_default = std::make_shared<bool>(false);
  CLI::App* cmd = app.add_subcommand(
      "run", "Run synth (or use an existing corpus) -> knn -> dedup (when [dedup] enabled) -> order -> pack from "
             "one TOML configuration. Each stage writes its output before the next starts; a rerun skips the stages whose outputs were made from the "
             "same inputs and parameters and redoes the rest. Without CONFIG, the embedded default (a demo) runs.");
  cmd->add_option("config", *path, "TOML configuration (weave run --print-default-config shows every key)");
  cmd->add_option("--set", *overrides, "Override one value: SECTION.KEY=VALUE, VALUE in TOML or a bare string, e.g. --set knn.k=20 "
                  "--set corpus.path=corpus.h5 (repeatable)");
  cmd->add_flag("--print-default-config", *print_default, "Print the embedded default configuration (every key, with the value it takes when left out, "
                  "and a comment) and exit");
  add_common_options(cmd, *common);

  cmd->callback([&run, path, overrides, common, print_default] {
    run = [path, overrides, common, print_default](const mpi::Comm& comm) {
      if (*print_default) {
        if (comm.is_root()) fmt::print("{}", run::default_config_toml());
        return;
      }
      run::RunConfig config;
      mpi::collectively(comm, [&] {
        std::string text = run::default_config_toml(), name = "default configuration";
        if (!path->empty()) {
          std::ifstream in(*path);
          if (!in) throw UserError(fmt::format("{}: cannot read the configuration file", *path));
          std::stringstream buffer;
          buffer << in.rdbuf();
          text = buffer.str();
          name = *path;
        }
        config = run::parse_run_config(text, name, *overrides);
      });
      print_configuration(comm, "run", config.to_json(), *common);
      check_report_path(comm, *common);
      run::run_pipeline(comm, config, *common);
    };
  });
}

}  // namespace weave::cli
