#!/usr/bin/env bash
# Runs the pipeline that exists so far on one machine with mpirun, one rank per core.
# Usage: mpi_jobs/local.sh RANKS OUT_DIR [extra synth options]
set -euo pipefail
ranks="${1:?ranks}"; out="${2:?output folder}"; shift 2
here="$(cd "$(dirname "$0")/.." && pwd)"
weave="${WEAVE:-$here/build/release/src/weave}"
source "$here/scripts/env.sh"
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1   # one rank per core
mkdir -p "$out"
mpirun -n "$ranks" "$weave" synth --out "$out/corpus.h5" --report "$out/synth.json" "$@"
mpirun -n "$ranks" "$weave" inspect "$out/corpus.h5" --report "$out/inspect.json"
mpirun -n "$ranks" "$weave" knn --corpus "$out/corpus.h5" --k 10 --out "$out/knn.h5" --report "$out/knn.json"
mpirun -n "$ranks" "$weave" order --knn "$out/knn.h5" --corpus "$out/corpus.h5" --out "$out/order.h5" \
  --report "$out/order.json"
