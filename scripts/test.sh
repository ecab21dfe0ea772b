#!/usr/bin/env bash
# From a fresh clone to the passing test suite: installs the Debian packages (idempotent), builds,
# and runs every test under ctest (MPI tests at 1, 2, 3 and 5 ranks, oversubscribed).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/install-slurm.sh   # for the Slurm job tests (label slurm)
scripts/build.sh release
source scripts/env.sh
cd build/release
ctest --output-on-failure -j "${WEAVE_TEST_JOBS:-2}" "$@"
