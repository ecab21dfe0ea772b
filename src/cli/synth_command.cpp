// `weave synth`: writes a synthetic corpus in the input format (docs/format.md).
#include <memory>

#include "cli/commands.hpp"
#include "corpus/synth.hpp"
#include "mpi/collective_error.hpp"
#include "util/config_json.hpp"
#include "util/log.hpp"
#include "util/report.hpp"

namespace weave::cli {

void add_synth_command(CLI::App& app, Runner& run) {
  auto config = std::make_shared<SynthConfig>();
  auto common = std::make_shared<CommonOptions>();
  auto dtype = std::make_shared<std::string>("float32");
  CLI::App* cmd = app.add_subcommand(
      "synth",
      "Generate a synthetic corpus: topic clusters of embeddings, a share of near-duplicates, log-normal "
      "(heavy-tailed) token lengths, /sources and /topics. Identical for any number of ranks.");
  cmd->add_option("--out", config->out, "Output HDF5 file")->required();
  cmd->add_option("--docs", config->docs, "Number of documents")->capture_default_str();
  cmd->add_option("--dim", config->dim, "Embedding dimension")->capture_default_str();
  cmd->add_option("--topics", config->topics, "Number of topic clusters")->capture_default_str();
  cmd->add_option("--sources", config->sources, "Number of data sources (/sources values 0..S-1)")->capture_default_str();
  cmd->add_option("--seed", config->seed, "Random seed (all values derive from seed and document id)")->capture_default_str();
  cmd->add_option("--topic-spread", config->topic_spread,
                  "Noise norm around the unit topic centroid (1.0: cosine ~0.7 to the centroid)")
      ->capture_default_str();
  cmd->add_option("--duplicate-share", config->duplicate_share, "Share of documents that near-copy an earlier one")
      ->capture_default_str();
  cmd->add_option("--duplicate-noise", config->duplicate_noise, "Noise norm of a near-duplicate")->capture_default_str();
  cmd->add_option("--median-tokens", config->median_tokens, "Median token length (log-normal)")->capture_default_str();
  cmd->add_option("--length-sigma", config->length_sigma, "Sigma of log(length); larger = heavier tail")
      ->capture_default_str();
  cmd->add_option("--min-tokens", config->min_tokens, "Smallest token length")->capture_default_str();
  cmd->add_option("--max-tokens", config->max_tokens, "Largest token length")->capture_default_str();
  cmd->add_option("--first-doc-id", config->first_doc_id, "/doc_ids = first-doc-id + row")->capture_default_str();
  cmd->add_option("--dtype", *dtype, "Embedding storage type: float32, float16 or bfloat16 (uint16 bits)")
      ->check(CLI::IsMember({"float32", "float16", "bfloat16"}))
      ->capture_default_str();
  add_common_options(cmd, *common);

  cmd->callback([&run, config, common, dtype] {
    config->dtype = *dtype == "float16" ? EmbeddingDtype::kFloat16
                    : *dtype == "bfloat16" ? EmbeddingDtype::kBFloat16
                                           : EmbeddingDtype::kFloat32;
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
