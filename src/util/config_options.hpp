// The option tables of the stages' configurations (util/option_table.hpp): what the command line,
// `weave run`'s TOML, the configuration JSON and the per-option checks are generated from.
#pragma once

#include "util/option_table.hpp"
#include "weave/config.hpp"

namespace weave {

/// `weave knn` / `[knn]`: every option but the corpus's (CorpusOptions) and --out.
const util::OptionTable<KnnConfig>& knn_options();

}  // namespace weave
