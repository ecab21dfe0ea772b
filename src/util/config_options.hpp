// The option tables of the stages' configurations (util/option_table.hpp): what the command line,
// `weave run`'s TOML, the configuration JSON and the per-option checks are generated from.
#pragma once

#include "util/option_table.hpp"
#include "weave/config.hpp"

namespace weave {

/// Every command's corpus options / `[corpus]` (the path is each command's own --corpus).
const util::OptionTable<CorpusOptions>& corpus_options();
/// `weave synth` / `[synth]` (but --out).
const util::OptionTable<SynthConfig>& synth_options();
/// `weave knn` / `[knn]`: every option but the corpus's (CorpusOptions) and --out.
const util::OptionTable<KnnConfig>& knn_options();
/// `weave order` / `[order]`: the algorithm and its parameters (not the files, --force, --dedup).
const util::OptionTable<OrderConfig>& order_options();
/// `weave dedup` / `[dedup]` (without `enabled`, which only weave run has).
const util::OptionTable<DedupConfig>& dedup_options();
/// `weave pack` / `[pack]`: the contexts and the data mix (not the files, --force, --dedup, --dataset).
const util::OptionTable<PackConfig>& pack_options();

}  // namespace weave
