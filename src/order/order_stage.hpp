// `weave order` as a stage: kNN graph -> greedy path cover (or the ICLM traversal) -> stitched
// into one order -> order.h5 with its quality figures.
#pragma once

#include "mpi/comm.hpp"
#include "weave/config.hpp"

namespace weave::util {
class Report;
}

namespace weave::order {

/// Collective.
void run_order_stage(const mpi::Comm& comm, const OrderConfig& config, const CommonOptions& common,
                     util::Report& report);

}  // namespace weave::order
