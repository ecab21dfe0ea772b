// The subcommands of the `weave` program. Each add_* registers its options on the CLI11 app and
// sets `run` to what executes once every rank has parsed the same command line.
#pragma once

#include <functional>
#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "mpi/collective_error.hpp"
#include "mpi/comm.hpp"
#include "util/report.hpp"
#include "weave/config.hpp"

namespace weave::cli {

using Runner = std::function<void(const mpi::Comm&)>;

void add_synth_command(CLI::App& app, Runner& run);
void add_inspect_command(CLI::App& app, Runner& run);
void add_knn_command(CLI::App& app, Runner& run);
void add_dedup_command(CLI::App& app, Runner& run);
void add_order_command(CLI::App& app, Runner& run);
void add_pack_command(CLI::App& app, Runner& run);
void add_run_command(CLI::App& app, Runner& run);

/// The options of every command that reads a corpus (--on-zero-vector, --max-block-rows,
/// --lengths-from: the corpus option table but its path, which each command names itself).
void add_corpus_options(CLI::App* command, CorpusOptions& options);

/// --quiet and --report FILE.json, on every subcommand.
void add_common_options(CLI::App* command, CommonOptions& options);
/// Collective: --report's folder exists and is writable, checked before the work (io::check_output_path).
void check_report_path(const mpi::Comm& comm, const CommonOptions& options);
/// Prints "weave NAME: key=value ..." (the effective configuration) on rank 0 unless quiet.
void print_configuration(const mpi::Comm& comm, const std::string& command, const nlohmann::json& config,
                         const CommonOptions& options);

/// The frame of a stage command: print the effective configuration, run stage(report), then
/// write --report (collectively, so a failure to write it is reported like any other).
template <typename Stage>
void run_stage_command(const mpi::Comm& comm, const std::string& name, const nlohmann::json& config,
                       const CommonOptions& common, Stage&& stage) {
  print_configuration(comm, name, config, common);
  check_report_path(comm, common);
  util::Report report(comm, name);
  report.set_config(config);
  stage(report);
  mpi::collectively(comm, [&] { report.write(common.report_path); });
}

}  // namespace weave::cli
