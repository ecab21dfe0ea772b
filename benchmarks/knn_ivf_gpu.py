#!/usr/bin/env python3
"""Benchmark of `weave knn --method ivf --backend cuda` against the exact GPU method (issue: distributed
IVF, its GPU goal). In one run, on the GPU machine:
  (a) weave synth: an N x d clustered corpus (all cores);
  (b) weave knn --method ivf --backend cuda, one rank per GPU: the search stage and its phases
      (hold = own rows to the GPU, train, recall sample, assign, shuffle, search, merge), the recall
      it measured on its sample against exact search, nlist and the nprobe it chose;
  (c) weave knn --method exact --backend cuda on corpora of N/f and N/(2f) rows of the same
      distribution (exact search is N^2 d work whatever the rows: its time is scaled by f^2, and
      the growth from N/(2f) to N/f shows the quadratic law the estimate relies on); with f = 1 on
      the corpus itself;
  (d) with --cpu-ranks R > 0: the same IVF with --backend cpu at R ranks; the two files must hold
      the same lists and similarities, bit for bit.
Prints the times and the ratio exact / ivf.

Usage: benchmarks/knn_ivf_gpu.py [--docs 10000000] [--dim 768] [--topics 10000] [--k 10]
       [--exact-fraction 4] [--gpus 1] [--cpu-ranks 0] [--tmp DIR] [ivf options passed on, e.g. --nlist 4096]
Run from the repository root after a build with the CUDA backend in build/release or $WEAVE_BUILD."""
import argparse
import json
import os
import tempfile

import h5py
import numpy as np

from bench_common import WEAVE, run


def search_seconds(report):
    rep = json.load(open(report))
    stage = next(s for s in rep["stages"] if s["stage"] == "search")
    rep["search_peak_gib"] = stage["peak_memory_bytes"]["max"] / 2**30
    return stage["wall_seconds"]["max"], rep


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=10000000)
    ap.add_argument("--dim", type=int, default=768)
    ap.add_argument("--topics", type=int, default=10000)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--exact-fraction", type=int, default=4)
    ap.add_argument("--gpus", type=int, default=1)
    ap.add_argument("--cpu-ranks", type=int, default=0)
    ap.add_argument("--synth-ranks", type=int, default=os.cpu_count())
    ap.add_argument("--tmp", default=None)
    args, ivf_options = ap.parse_known_args()
    n, d, k, f = args.docs, args.dim, args.k, args.exact_fraction
    tmp = args.tmp or tempfile.mkdtemp()
    mpirun = ["mpirun", "--bind-to", "none", "-n"]

    def synth(rows, name):
        path = os.path.join(tmp, name)
        _, t = run(mpirun + [args.synth_ranks, WEAVE, "synth", "--out", path, "--docs", rows, "--dim", d, "--topics",
                             args.topics, "--quiet"])
        print(f"synth {rows} x {d}: {t:.1f} s", flush=True)
        return path

    corpus = synth(n, "corpus.h5")
    ivf = os.path.join(tmp, "ivf_cuda.h5")
    run(mpirun + [args.gpus, WEAVE, "knn", "--corpus", corpus, "--k", k, "--method", "ivf", "--backend", "cuda",
                  "--out", ivf, "--report", ivf + ".json", "--quiet"] + ivf_options)
    ivf_s, rep = search_seconds(ivf + ".json")
    cnt, fig = rep["counters"], rep["figures"]
    phases = {p: cnt[p + "_seconds"]["max"] for p in ("fold", "hold", "train", "recall_sample", "assign", "routes",
                                                      "shuffle", "search", "unit_search", "merge", "measure",
                                                      "unfold") if p + "_seconds" in cnt}
    print(f"ivf cuda, {args.gpus} rank(s): search stage {ivf_s:.2f} s; " +
          ", ".join(f"{p} {t:.2f}" for p, t in phases.items()))
    print(f"  nlist {fig['ivf_clusters']}, nprobe {fig['ivf_probe']}, recall@{k} {fig.get('recall_at_k', -1):.4f} on "
          f"{fig.get('recall_queries', 0)} queries; pairs / N^2 {fig['pairs_fraction']:.5f}; peak memory "
          f"{rep['search_peak_gib']:.1f} GiB (host, search stage)", flush=True)

    exact = {}
    for rows in ([] if f == 0 else [n] if f == 1 else [n // (2 * f), n // f]):
        path = corpus if rows == n else synth(rows, f"exact{rows}.h5")
        out = os.path.join(tmp, f"exact{rows}.h5")
        run(mpirun + [args.gpus, WEAVE, "knn", "--corpus", path, "--k", k, "--method", "exact", "--backend", "cuda",
                      "--out", out, "--report", out + ".json", "--quiet"])
        exact[rows], _ = search_seconds(out + ".json")
        print(f"exact cuda, {rows} rows: search stage {exact[rows]:.2f} s", flush=True)
        if rows != n:
            os.remove(path)
    if not exact:  # --exact-fraction 0: the IVF alone
        return
    top = max(exact)
    estimate = exact[top] * (n / top) ** 2
    if len(exact) == 2:
        a, b = sorted(exact)
        print(f"  growth {a} -> {b} rows: {exact[b] / exact[a]:.2f}x (quadratic: {(b / a) ** 2:.2f}x)")
    print(f"exact cuda for {n} rows: {'measured' if top == n else 'estimated'} {estimate:.1f} s")
    print(f"RESULT docs={n} dim={d} ivf_seconds={ivf_s:.3f} exact_seconds={estimate:.1f} "
          f"exact_over_ivf={estimate / ivf_s:.1f} recall={fig.get('recall_at_k', -1):.4f}", flush=True)

    if args.cpu_ranks > 0:
        cpu = os.path.join(tmp, "ivf_cpu.h5")
        _, t = run(mpirun + [args.cpu_ranks, WEAVE, "knn", "--corpus", corpus, "--k", k, "--method", "ivf", "--backend",
                             "cpu", "--out", cpu, "--report", cpu + ".json", "--quiet"] + ivf_options,
                   env={"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"})
        cpu_s, _ = search_seconds(cpu + ".json")
        with h5py.File(ivf, "r") as a, h5py.File(cpu, "r") as b:
            same = all(np.array_equal(a[x][:], b[x][:], equal_nan=(x == "similarities"))
                       for x in ("neighbors", "similarities"))
        print(f"ivf cpu, {args.cpu_ranks} ranks: search stage {cpu_s:.2f} s; lists identical to the GPU's: {same}")


if __name__ == "__main__":
    main()
