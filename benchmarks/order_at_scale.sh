#!/usr/bin/env bash
# `weave order` at scale beside the kNN that feeds it, in one run (issue: stitching that follows the
# rest of Weave): a synthetic corpus, its exact kNN graph (GPU with --backend cuda: one rank, one
# GPU), then `weave order` on RANKS CPU ranks. Prints each stage's time (max over ranks), the
# stitching levels and the quality, and the ratio order time / kNN time.
#
# Usage: benchmarks/order_at_scale.sh WORKDIR [DOCS=2000000] [DIM=768] [RANKS=16] [BACKEND=cuda]
#   WEAVE=path/to/weave (default build/release/src/weave). Needs ~DOCS*DIM*4*2 bytes in WORKDIR.
# Measured on the GPU machine (one H200, 16 cores): see docs/benchmarks.md.
set -euo pipefail
work="$1"; docs="${2:-2000000}"; dim="${3:-768}"; ranks="${4:-16}"; backend="${5:-cuda}"
weave="${WEAVE:-$(cd "$(dirname "$0")/.." && pwd)/build/release/src/weave}"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
mkdir -p "$work"
stages() {  # a report's stage times, max over ranks
  python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(" ".join("%s=%.2fs" % (s["stage"], s["wall_seconds"]["max"]) for s in r["stages"]))' "$1"
}
elapsed() { python3 -c "import sys; print('%.2f' % (float(sys.argv[2]) - float(sys.argv[1])))" "$1" "$2"; }
total_without_io() {
  python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(round(sum(s["wall_seconds"]["max"] for s in r["stages"] if not s["stage"].startswith("read") and s["stage"] != "write"),2))' "$1"
}

mpirun -n "$ranks" --bind-to none "$weave" synth --docs "$docs" --dim "$dim" --topics $((docs / 1000)) \
  --out "$work/corpus.h5" --quiet
knn_ranks=$([ "$backend" = cuda ] && echo 1 || echo "$ranks")
t0=$(date +%s.%N)
mpirun -n "$knn_ranks" --bind-to none "$weave" knn --corpus "$work/corpus.h5" --k 10 --backend "$backend" \
  --out "$work/knn.h5" --report "$work/knn.json" --quiet
t1=$(date +%s.%N)
echo "knn ($backend, $knn_ranks rank(s)): $(elapsed "$t0" "$t1") s wall; $(stages "$work/knn.json")"
t0=$(date +%s.%N)
mpirun -n "$ranks" --bind-to none "$weave" order --knn "$work/knn.h5" --corpus "$work/corpus.h5" \
  --out "$work/order.h5" --report "$work/order.json"
t1=$(date +%s.%N)
echo "order ($ranks ranks): $(elapsed "$t0" "$t1") s wall; $(stages "$work/order.json")"
echo "order without read/write: $(total_without_io "$work/order.json") s"
python3 - "$work/order.json" "$work/knn.json" <<'EOF'
import json, sys
o, k = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
f = o["figures"]
for l in f["stitch_level_details"]:
    print(f"  stitch {l['method']:10} reach {l['reach']:3}: {l['paths']:8} paths {l['ends']:8} ends "
          f"{l['candidates']:9} candidates {l.get('sketches_fetched', 0):9} sketches {l['rows_fetched']:9} rows fetched "
          f"{l['largest_meeting']:7} largest meeting "
          f"{l['accepted']:8} joined {l['seconds']:.2f} s (rows read {l.get('read_seconds', 0):.2f}, candidates {l['candidate_seconds']:.2f}, "
          f"scores {l['score_seconds']:.2f}, join {l['join_seconds']:.2f})")
knn_s = sum(s["wall_seconds"]["max"] for s in k["stages"] if not s["stage"].startswith("read") and s["stage"] != "write")
order_s = sum(s["wall_seconds"]["max"] for s in o["stages"] if not s["stage"].startswith("read") and s["stage"] != "write")
print(f"mean adjacent similarity {f['adjacent']['mean_similarity']:.4f}, random pairs {f['random_pairs']['mean_similarity']:.4f}")
print(f"peak memory per rank {o['peak_memory_bytes']['max'] / 2**30:.2f} GiB; order / knn time (without I/O) "
      f"{order_s:.2f} / {knn_s:.2f} s = {order_s / knn_s:.2f}")
EOF
