// Configurations as JSON: printed at start, stored in reports and output attributes.
#pragma once

#include <nlohmann/json.hpp>

#include "weave/config.hpp"

namespace weave {

nlohmann::json to_json(const SynthConfig& c);
nlohmann::json to_json(const CorpusOptions& c);
nlohmann::json to_json(const KnnConfig& c);
nlohmann::json to_json(const OrderConfig& c);
nlohmann::json to_json(const DedupConfig& c);
nlohmann::json to_json(const PackConfig& c);

}  // namespace weave
