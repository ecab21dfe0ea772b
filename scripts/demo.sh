#!/usr/bin/env bash
# From a fresh clone to the demo: installs the Debian packages (idempotent), builds, and runs the
# pipeline that exists so far under mpirun on the embedded default corpus:
#   weave synth   -> demo/corpus.h5 (20,000 documents, 64-d embeddings, 50 topics)
#   weave inspect -> validates it and prints its summary
#   weave knn     -> demo/knn.h5 (every document's 10 most similar documents)
#   weave order   -> demo/order.h5 (one order of all documents, similar ones next to each other)
#   weave pack    -> demo/contexts.h5 (8K-token training contexts), read back with h5py
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
echo "== weave knn on $ranks ranks"
OPENBLAS_NUM_THREADS=1 mpirun -n "$ranks" "$weave" knn --corpus demo/corpus.h5 --k 10 --out demo/knn.h5 \
  --report demo/knn.json
echo
echo "== weave order on $ranks ranks"
OPENBLAS_NUM_THREADS=1 mpirun -n "$ranks" "$weave" order --knn demo/knn.h5 --corpus demo/corpus.h5 --out demo/order.h5 \
  --report demo/order.json
echo
echo "== weave pack on $ranks ranks"
mpirun -n "$ranks" "$weave" pack --order demo/order.h5 --corpus demo/corpus.h5 --context-length 8192 \
  --separator-tokens 1 --out demo/contexts.h5 --report demo/pack.json
echo
echo "== the first contexts, read with plain h5py (docs/examples/read_contexts.py): id, doc ids, cu_seqlens, padding"
/usr/bin/python3 docs/examples/read_contexts.py demo/contexts.h5 | cut -c1-160
echo
echo "Made: demo/corpus.h5 (the corpus), demo/knn.h5 (the kNN graph), demo/order.h5 (the document order),"
echo "      demo/contexts.h5 (the context index), demo/{synth,knn,order,pack}.json (reports)."
