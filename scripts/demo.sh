#!/usr/bin/env bash
# From a fresh clone to the demo: installs the Debian packages (idempotent), builds, and runs the
# pipeline that exists so far under mpirun on the embedded default corpus:
#   weave synth   -> demo/corpus.h5 (20,000 documents, 64-d embeddings, 50 topics)
#   weave inspect -> validates it and prints its summary
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh release
source scripts/env.sh
ranks="${WEAVE_DEMO_RANKS:-2}"
weave=build/release/src/weave
mkdir -p demo
echo "== weave synth on $ranks ranks"
mpirun -n "$ranks" "$weave" synth --docs 20000 --dim 64 --topics 50 --out demo/corpus.h5 --report demo/synth.json
echo
echo "== weave inspect on $ranks ranks"
mpirun -n "$ranks" "$weave" inspect demo/corpus.h5
echo
echo "Made: demo/corpus.h5 (the corpus), demo/synth.json (the run report)."
