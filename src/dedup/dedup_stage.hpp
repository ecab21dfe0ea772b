// `weave dedup` as a stage: kNN graph -> groups of near-duplicates (edges >= threshold, connected
// components) -> one document kept per group -> dedup.h5 with the groups' summary.
#pragma once

#include "mpi/comm.hpp"
#include "weave/config.hpp"

namespace weave::util {
class Report;
}

namespace weave::dedup {

/// Collective.
void run_dedup_stage(const mpi::Comm& comm, const DedupConfig& config, const CommonOptions& common,
                     util::Report& report);

}  // namespace weave::dedup
