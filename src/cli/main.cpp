// `weave`: one executable, one subcommand per stage. Every rank parses the same command line.
#include <algorithm>
#include <cstdio>
#include <memory>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "io/atomic_output.hpp"
#include "mpi/environment.hpp"
#include "weave/error.hpp"
#include "weave/version.hpp"

namespace weave::cli {

void add_common_options(CLI::App* command, CommonOptions& options) {
  command->add_flag("-q,--quiet", options.quiet, "Print no progress lines and no configuration");
  command->add_option("--report", options.report_path,
                      "Write a JSON report: per-stage wall time (min/mean/max over ranks), counters, peak memory, "
                      "configuration");
}

void check_report_path(const mpi::Comm& comm, const CommonOptions& options) {
  if (!options.report_path.empty()) io::check_output_path(comm, options.report_path);
}

void print_configuration(const mpi::Comm& comm, const std::string& command, const nlohmann::json& config,
                         const CommonOptions& options) {
  if (options.quiet || !comm.is_root()) return;
  std::string line = fmt::format("weave {} (v{}, {} rank{}):", command, kVersion, comm.size(), comm.size() == 1 ? "" : "s");
  for (const auto& [key, value] : config.items())
    line += fmt::format(" {}={}", key, value.is_string() ? value.get<std::string>() : value.dump());
  fmt::print("{}\n", line);
  std::fflush(stdout);
}

namespace {

int run(const mpi::Comm& world, int argc, char** argv) {
  CLI::App app{"Weave builds In-Context-Pretraining training contexts: it finds every document's nearest "
               "neighbours, orders the corpus so related documents sit together, and cuts the order into "
               "fixed-length contexts. Run it under mpirun or srun; every stage is sharded over the ranks.",
               "weave"};
  app.set_version_flag("--version", fmt::format("weave {}{}", kVersion, kHaveCuda ? " (CUDA)" : ""));
  app.require_subcommand(1);
  Runner runner;
  add_synth_command(app, runner);
  add_inspect_command(app, runner);
  add_knn_command(app, runner);
  add_dedup_command(app, runner);
  add_order_command(app, runner);
  add_pack_command(app, runner);
  add_run_command(app, runner);
  // CLI11 would say only "A subcommand is required" for `weave frob`: name the unknown command.
  std::vector<std::string> commands;
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; }))
    commands.push_back(sub->get_name());
  if (argc > 1 && argv[1][0] != '-' && std::find(commands.begin(), commands.end(), argv[1]) == commands.end()) {
    if (world.is_root())
      fmt::print(stderr, "weave: error: unknown command '{}' (commands: {})\nRun with --help for the options.\n",
                 argv[1], fmt::join(commands, ", "));
    return 2;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // Help and version go to stdout with status 0; unknown options and bad values are errors (2).
    const bool ok = e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success);
    if (world.is_root()) {
      if (ok) app.exit(e);
      else fmt::print(stderr, "weave: error: {}\nRun with --help for the options.\n", e.what());
    }
    return ok ? 0 : 2;
  }
  runner(world);
  return 0;
}

}  // namespace
}  // namespace weave::cli

int main(int argc, char** argv) {
  weave::mpi::Environment env(argc, argv);
  const weave::mpi::Comm world = weave::mpi::Comm::world();
  try {
    return weave::cli::run(world, argc, argv);
  } catch (const weave::UserError& e) {
    if (e.collective()) {
      // Every rank has this same error: rank 0 says it once, all exit 2.
      if (world.is_root()) fmt::print(stderr, "weave: error: {}\n", e.what());
      return 2;
    }
    // Only this rank knows: say it, and take the whole job down with status 2 (no hang).
    fmt::print(stderr, "weave: error (rank {}): {}\n", world.rank(), e.what());
    std::fflush(stderr);
    weave::mpi::Environment::abort(2);
  } catch (const std::exception& e) {
    fmt::print(stderr, "weave: internal error (rank {}): {}\n", world.rank(), e.what());
    std::fflush(stderr);
    weave::mpi::Environment::abort(1);
  }
}
