#!/usr/bin/python3
"""Benchmark of `weave knn` on CPUs (issue: exact distributed kNN). In one run, on one machine:
  (a) weave knn at 1 and 2 ranks (one BLAS thread per rank),
  (b) faiss IndexFlatIP in a single process searching the whole corpus with as many threads as (a)'s
      largest run has ranks,
  (c) the OpenBLAS SGEMM rate for the ring's tile shape, 1 thread and that many threads.
Prints throughput (queries/s, effective GFLOP/s = 2 N^2 d / time) and the ratios, and checks that
faiss and weave agree on the neighbour lists.

Usage: benchmarks/knn_cpu.py [--docs 100000] [--dim 128] [--topics 200] [--k 10] [--ranks 1,2]
(run from the repository root after scripts/build.sh)."""
import argparse
import json
import os
import sys
import tempfile

import h5py
import numpy as np

from bench_common import BUILD, WEAVE, result_line, run


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=100000)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--topics", type=int, default=200)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--ranks", default="1,2")
    args = ap.parse_args()
    ranks = [int(r) for r in args.ranks.split(",")]
    threads = max(ranks)
    n, d, k = args.docs, args.dim, args.k
    flops = 2.0 * n * n * d

    with tempfile.TemporaryDirectory(prefix="weave-bench-") as tmp:
        corpus = os.path.join(tmp, "corpus.h5")
        run(["mpirun", "-n", threads, WEAVE, "synth", "--docs", n, "--dim", d, "--topics", args.topics,
             "--out", corpus, "--quiet"])
        print(f"corpus: {n} x {d}, {args.topics} topics, k={k}; machine: {os.cpu_count()} cores")

        rows = []
        weave_ids = None
        for r in ranks:
            report = os.path.join(tmp, f"knn{r}.json")
            out = os.path.join(tmp, f"knn{r}.h5")
            _, wall = run(["mpirun", "-n", r, "--bind-to", "none", WEAVE, "knn", "--corpus", corpus, "--k", k,
                           "--out", out, "--report", report, "--quiet"],
                          env={"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"})
            rep = json.load(open(report))
            search = next(s for s in rep["stages"] if s["stage"] == "search")["wall_seconds"]["max"]
            wait = rep["counters"]["ring_wait_seconds"]["max"]
            rows.append((f"weave knn, {r} rank{'s' if r > 1 else ''}", search, wall, wait))
            ids = h5py.File(out, "r")["neighbors"][:]
            if weave_ids is not None and not np.array_equal(ids, weave_ids):
                sys.exit("weave knn gave different lists at different rank counts")
            weave_ids = ids

        faiss_out = os.path.join(tmp, "faiss_ids.bin")
        text, wall = run([os.path.join(BUILD, "benchmarks", "faiss_flat_baseline"), corpus, k, faiss_out],
                         env={"OMP_NUM_THREADS": str(threads), "OPENBLAS_NUM_THREADS": str(threads)})
        faiss_seconds = float(result_line(text)["seconds"])
        rows.append((f"faiss IndexFlatIP, 1 process x {threads} threads", faiss_seconds, wall, 0.0))
        faiss_ids = np.fromfile(faiss_out, dtype=np.int64).reshape(n, k)
        # faiss breaks ties its own way and uses float sums: compare as sets, report agreement.
        agree = np.mean([len(set(a) & set(b)) / k for a, b in zip(faiss_ids, weave_ids)])

        gemm = {}
        for t in sorted({1, threads}):
            text, _ = run([os.path.join(BUILD, "benchmarks", "sgemm_rate"), d, 1024, 4096, 3],
                          env={"OPENBLAS_NUM_THREADS": str(t)})
            gemm[t] = float(result_line(text)["gflops"])

    print(f"\n{'run':44} {'search s':>9} {'wall s':>8} {'wait s':>7} {'queries/s':>11} {'eff GFLOP/s':>12}")
    for name, search, wall, wait in rows:
        print(f"{name:44} {search:9.3f} {wall:8.2f} {wait:7.3f} {n / search:11.0f} {flops / search / 1e9:12.1f}")
    for t, g in gemm.items():
        print(f"{'OpenBLAS SGEMM 4096x1024x' + str(d) + ', ' + str(t) + ' thread(s)':44} {'':9} {'':8} {'':7} {'':11} {g:12.1f}")
    best = {r: s for (name, s, _, _), r in zip(rows, ranks)}
    print("\nratios")
    for r in ranks:
        g = gemm[r] if r in gemm else gemm[threads]
        print(f"  weave {r} rank(s) / faiss ({threads} threads) throughput: {faiss_seconds / best[r]:.2f}x")
        print(f"  weave {r} rank(s) effective GFLOP/s / SGEMM rate on {r} thread(s): {flops / best[r] / 1e9 / g:.0%}")
    if len(ranks) > 1:
        print(f"  scaling {ranks[0]} -> {ranks[-1]} ranks: {best[ranks[0]] / best[ranks[-1]]:.2f}x")
    print(f"  neighbour agreement with faiss (share of common ids): {agree:.4f}")


if __name__ == "__main__":
    main()
