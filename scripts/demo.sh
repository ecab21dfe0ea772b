#!/usr/bin/env bash
# From a fresh clone to the demo: installs the Debian packages (idempotent), builds, and runs the
# whole pipeline under mpirun with `weave run` on its embedded default configuration
# (`weave run --print-default-config` shows it):
#   synth -> demo/corpus.h5    20,000 documents, 64-d embeddings, 50 topics, heavy-tailed lengths
#   knn   -> demo/knn.h5       every document's 10 most similar documents (exact)
#   order -> demo/order.h5     one order of all documents, similar ones next to each other
#   pack  -> demo/contexts.h5  8K-token training contexts, then read back with plain h5py
# Run it again: every stage is up to date and skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh release
source scripts/env.sh
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1   # one rank per core
ranks="${WEAVE_DEMO_RANKS:-2}"
echo "== weave run on $ranks ranks"
mpirun -n "$ranks" build/release/src/weave run --set out_dir='"demo"' --report demo/report.json
echo
echo "== the first contexts, read with plain h5py (docs/examples/read_contexts.py): context, doc ids, cu_seqlens, padding"
/usr/bin/python3 docs/examples/read_contexts.py demo/contexts.h5 | cut -c1-150
echo
echo "Made: demo/corpus.h5, demo/knn.h5, demo/order.h5, demo/contexts.h5 and demo/report.json (time per stage"
echo "over ranks, memory, quality figures). Inspect any of them: build/release/src/weave inspect demo/corpus.h5"
