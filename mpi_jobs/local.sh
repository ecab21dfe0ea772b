#!/usr/bin/env bash
# Runs the pipeline that exists so far on one machine with mpirun.
# Usage: mpi_jobs/local.sh RANKS OUT_DIR [extra synth options]
set -euo pipefail
ranks="${1:?ranks}"; out="${2:?output folder}"; shift 2
here="$(cd "$(dirname "$0")/.." && pwd)"
weave="${WEAVE:-$here/build/release/src/weave}"
source "$here/scripts/env.sh"
mkdir -p "$out"
mpirun -n "$ranks" "$weave" synth --out "$out/corpus.h5" --report "$out/synth.json" "$@"
mpirun -n "$ranks" "$weave" inspect "$out/corpus.h5" --report "$out/inspect.json"
