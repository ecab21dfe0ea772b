#!/usr/bin/python3
"""Benchmark of `weave knn` on tied vectors (issue: reliability, ties in the kNN). In one run, the
same number of documents and the same dimension:
  distinct     weave synth without duplicates (the baseline),
  copies20     20% of the documents exact copies of an earlier one (weave synth, noise 0): groups of 2-3,
  boiler20     20% of the documents replaced by one of 20 boilerplate rows: groups of ~N/100,
  identical    every document the same vector.
Prints the search stage's seconds (max over ranks), the ratio to `distinct`, the pairs scored
canonically and the rows folded into an identical row (report counters).

Usage: benchmarks/knn_ties.py [--docs 50000] [--dim 128] [--k 10] [--ranks 2] [--backend cpu|cuda]
(run from the repository root after scripts/build.sh)."""
import argparse
import json
import os
import tempfile

import numpy as np

from bench_common import WEAVE, run


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=50000)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--ranks", type=int, default=2)
    ap.add_argument("--backend", default="cpu")
    args = ap.parse_args()
    n, d, p = args.docs, args.dim, args.ranks
    mpirun = ["mpirun", "-n", p, "--bind-to", "none"]
    env = {"OMPI_MCA_mpi_yield_when_idle": "0"}
    with tempfile.TemporaryDirectory(prefix="weave-bench-") as tmp:
        def synth(name, *extra):
            path = os.path.join(tmp, name + ".h5")
            run(mpirun + [WEAVE, "synth", "--docs", n, "--dim", d, "--out", path, "--quiet", *extra], env)
            return path

        corpora = {"distinct": synth("distinct", "--duplicate-share", 0),
                   "copies20": synth("copies20", "--duplicate-share", 0.2, "--duplicate-noise", 0),
                   "boiler20": synth("boiler20", "--duplicate-share", 0),
                   "identical": synth("identical", "--duplicate-share", 0, "--topics", 1, "--topic-spread", 0)}
        try:
            import h5py
            with h5py.File(corpora["boiler20"], "r+") as f:
                e = f["embeddings"]
                rows = e[:]
                pick = np.random.default_rng(7).random(n) < 0.2
                rows[pick] = rows[np.random.default_rng(8).integers(0, n, 20)][np.arange(pick.sum()) % 20]
                e[...] = rows
        except ImportError:
            print("boiler20 not measured: no h5py here")
            del corpora["boiler20"]
        print(f"weave knn --backend {args.backend}, {n} x {d}, k = {args.k}, {p} ranks: search stage seconds "
              f"(max over ranks)")
        print(f"{'corpus':<10} {'search s':>9} {'/ distinct':>10} {'rescored pairs':>15} {'rows folded':>12}")
        base = None
        for name, corpus in corpora.items():
            report = os.path.join(tmp, name + ".json")
            run(mpirun + [WEAVE, "knn", "--corpus", corpus, "--k", args.k, "--out", os.path.join(tmp, name + "_knn.h5"),
                          "--backend", args.backend, "--quiet", "--report", report], env)
            with open(report) as f:
                r = json.load(f)
            seconds = next(s["wall_seconds"]["max"] for s in r["stages"] if s["stage"] == "search")
            counters = r["counters"]
            base = base or seconds
            rescored = counters.get("rescored_pairs", {}).get("total", float("nan"))
            folded = counters.get("identical_rows_folded", {}).get("total", float("nan"))
            print(f"{name:<10} {seconds:>9.2f} {seconds / base:>10.2f} {rescored:>15.3g} {folded:>12.3g}")


if __name__ == "__main__":
    main()
