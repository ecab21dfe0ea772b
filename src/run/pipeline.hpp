// `weave run`: synth (or an existing corpus) -> knn -> order -> pack, each stage's output written
// before the next starts. Every output is stamped with a hash of everything that made it (its
// parameters and the stamps of its inputs), so a rerun skips the stages whose outputs are up to
// date and redoes the others — a cancelled job resumes where it stopped.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "mpi/comm.hpp"
#include "weave/config.hpp"

namespace weave::run {

struct RunConfig {
  std::string out_dir = "weave-run";
  bool synthesize = true;  ///< no [corpus] path: generate the corpus with [synth]
  SynthConfig synth;
  KnnConfig knn;
  bool dedup_enabled = false;  ///< [dedup] enabled: the dedup stage runs, order and pack leave removed documents out
  DedupConfig dedup;
  OrderConfig order;
  PackConfig pack;
  nlohmann::json to_json() const;
};

/// The embedded default configuration (the README demo), as TOML text: every key, with the value
/// it takes when left out and a comment.
const std::string& default_config_toml();

/// Every key the configuration accepts, "out_dir" and "section.key".
std::vector<std::string> known_config_keys();

/// Parses TOML text (then `section.key=value` overrides) into a RunConfig with the output paths
/// filled in. Strict: an unknown key, a value of the wrong type or a section written as a value
/// throws UserError naming the key and where it came from (file and line, or the --set argument).
/// An override's value is TOML, or a bare string where it does not parse as TOML.
RunConfig parse_run_config(const std::string& toml_text, const std::string& source_name,
                           const std::vector<std::string>& overrides);

/// Collective.
void run_pipeline(const mpi::Comm& comm, const RunConfig& config, const CommonOptions& common);

}  // namespace weave::run
