// dedup.h5: /kept uint8 [N], /representative int64 [N], /group_size int64 [N] (docs/format.md).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "dedup/duplicate_groups.hpp"
#include "mpi/comm.hpp"
#include "weave/ids.hpp"

namespace weave::dedup {

/// Collective: every rank's block of the groups, through the .tmp + rename protocol. attributes:
/// strings, numbers or JSON (written as JSON text), on the root group.
void write_dedup_file(const mpi::Comm& comm, const std::string& path, std::int64_t num_docs, BlockRange range,
                      const DuplicateGroups& groups, const nlohmann::json& attributes);

/// This rank's rows [range) of a dedup file (collective); throws UserError for a file that is not one.
struct DedupBlock {
  std::int64_t num_docs = 0;
  BlockRange range;
  std::vector<std::uint8_t> kept;  ///< 1: kept, 0: removed
  std::int64_t kept_documents = 0;  ///< over the whole corpus
  double threshold = 0;
  nlohmann::json corpus;  ///< the corpus it was made from (corpus/provenance.hpp)
};
DedupBlock read_dedup_file(const mpi::Comm& comm, const std::string& path, std::int64_t num_docs);

}  // namespace weave::dedup
