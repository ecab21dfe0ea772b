#!/usr/bin/env bash
# The whole pipeline on one machine with mpirun, one rank per core.
# Usage: mpi_jobs/local.sh RANKS [CONFIG.toml] [--set SECTION.KEY=VALUE ...]
# Without a configuration, weave run's embedded default (a synthetic demo corpus) runs.
set -euo pipefail
ranks="${1:?ranks}"; shift
here="$(cd "$(dirname "$0")/.." && pwd)"
weave="${WEAVE:-$here/build/release/src/weave}"
source "$here/scripts/env.sh"
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
mpirun -n "$ranks" "$weave" run "$@"
