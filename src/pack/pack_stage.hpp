// `weave pack` as a stage: order.h5 + corpus lengths -> contexts.h5 (the context index a trainer
// reads), one pass for several context lengths.
#pragma once

#include "mpi/comm.hpp"
#include "weave/config.hpp"

namespace weave::util {
class Report;
}

namespace weave::pack {

/// Collective.
void run_pack_stage(const mpi::Comm& comm, const PackConfig& config, const CommonOptions& common, util::Report& report);

}  // namespace weave::pack
