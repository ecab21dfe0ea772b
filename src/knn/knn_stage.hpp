// `weave knn` as a stage: read the corpus, run the method, write knn.h5, report.
#pragma once

#include "mpi/comm.hpp"
#include "weave/config.hpp"

namespace weave::util {
class Report;
}

namespace weave::knn {

/// Collective.
void run_knn_stage(const mpi::Comm& comm, const KnnConfig& config, const CommonOptions& common, util::Report& report);

}  // namespace weave::knn
