#!/usr/bin/env python3
"""Benchmark of `weave knn --backend cuda` (issue: GPU backend). In one run, on the GPU machine:
  (a) weave knn --backend cuda on an N x d synthetic corpus (one rank per GPU),
  (b) the plain cuBLASLt BF16 GEMM over the same tiles (benchmarks/gemm_rate_cuda.cpp), and an
      8192^3 square GEMM as the chip's reference,
  (c) weave knn --backend cpu with one rank per core on a smaller corpus (--cpu-docs; the work is
      N^2 d, so rates are compared, not times), and the GPU backend on that same corpus: the two
      knn.h5 files must hold identical lists.
Prints time, effective TFLOP/s (2 N^2 d / search time), memory per GPU and the ratios.

Usage: benchmarks/knn_gpu.py [--docs 1000000] [--dim 768] [--k 10] [--gpus 1] [--cpu-docs 100000]
       [--cpu-ranks 16] [--variants 4096x4096:bf16,4096x2048:fp32:24,8192x4096:bf16:0:250000]
       (QxB tiles : score type [: SMs for the selection [: own rows resident on the GPU, the rest
       streamed]] [@cublaslt: --gpu-gemm cublaslt, else auto]; the first variant is the one compared with the CPU; each variant
       is timed with its own GEMM baseline). Run from the repository root after a build with the
       CUDA backend in build/release or $WEAVE_BUILD."""
import argparse
import json
import os
import sys
import tempfile

import h5py
import numpy as np

from bench_common import BUILD, WEAVE, result_line, run


def knn(corpus, out, ranks, backend, args, variant=None):
    report = out + ".json"
    cmd = ["mpirun", "-n", ranks, "--bind-to", "none", WEAVE, "knn", "--corpus", corpus, "--k", args.k,
           "--out", out, "--report", report, "--quiet", "--backend", backend]
    if backend == "cuda":
        variant, _, gemm = variant.partition("@")
        cmd += ["--gpu-gemm", gemm or "auto"]
        tile, scores, *rest = variant.split(":")
        q, b = tile.split("x")
        cmd += ["--gpu-query-tile", q, "--gpu-database-tile", b, "--gpu-scores", scores]
        cmd += ["--gpu-select-sms", rest[0]] if rest else []
        cmd += ["--gpu-resident-rows", rest[1]] if len(rest) > 1 else []
    _, wall = run(cmd, env={"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"})
    rep = json.load(open(report))
    search = next(s for s in rep["stages"] if s["stage"] == "search")["wall_seconds"]["max"]
    return search, wall, rep["counters"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=1000000)
    ap.add_argument("--dim", type=int, default=768)
    ap.add_argument("--topics", type=int, default=1000)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--gpus", default="1", help="GPU counts (ranks) to run the first variant at, e.g. 1,2")
    ap.add_argument("--cpu-docs", type=int, default=100000)
    ap.add_argument("--cpu-ranks", type=int, default=os.cpu_count())
    ap.add_argument("--variants", default="16384x4096:bf16")
    ap.add_argument("--tmp", default=None, help="scratch folder (default: a temporary one)")
    args = ap.parse_args()
    n, d = args.docs, args.dim
    gpu_counts = [int(g) for g in args.gpus.split(",")]

    with tempfile.TemporaryDirectory(prefix="weave-gpu-bench-", dir=args.tmp) as tmp:
        big, small = os.path.join(tmp, "big.h5"), os.path.join(tmp, "small.h5")
        for path, docs in ((big, n), (small, args.cpu_docs)):
            _, wall = run(["mpirun", "-n", args.cpu_ranks, "--bind-to", "none", WEAVE, "synth", "--docs", docs,
                           "--dim", d, "--topics", args.topics, "--out", path, "--quiet"])
            print(f"synth {docs} x {d}: {wall:.1f} s", flush=True)

        variants = args.variants.split(",")
        rows, gemm, steps = [], {}, {}
        for v in variants:
            search, wall, counters = knn(big, os.path.join(tmp, "gpu_big.h5"), gpu_counts[0], "cuda", args, v)
            rows.append((f"weave knn cuda {v}, {gpu_counts[0]} GPU, N={n}", n, search, wall))
            if v == variants[0]:
                gpu_counters = counters
            tile, scores, *_ = v.partition("@")[0].split(":")
            q, b = tile.split("x")
            text, _ = run([os.path.join(BUILD, "benchmarks", "gemm_rate_cuda"), n, d, q, b, scores])
            gemm[v] = result_line(text)
            steps[v] = counters["ring_step_seconds_mean"]["max"] * counters["ring_steps"]["max"]
            print(f"{v}: weave search {search:.3f} s (set-up {counters['gpu_setup_seconds']['max']:.3f} s, "
                  f"ring steps {steps[v]:.3f} s; wall {wall:.1f} s), "
                  f"{counters['rescored_pairs']['max'] / n:.1f} re-scored per query, "
                  f"{counters.get('gpu_filtered_tiles', {}).get('max', 0):.0f} tiles by the own filtering GEMM; "
                  f"cuBLASLt GEMM alone "
                  f"{float(gemm[v]['tile_seconds']):.3f} s", flush=True)

        scaling = []
        for g in gpu_counts[1:]:
            search, wall, counters = knn(big, os.path.join(tmp, f"gpu_big{g}.h5"), g, "cuda", args, variants[0])
            same = np.array_equal(h5py.File(os.path.join(tmp, "gpu_big.h5"), "r")["neighbors"][:],
                                  h5py.File(os.path.join(tmp, f"gpu_big{g}.h5"), "r")["neighbors"][:])
            scaling.append((g, search, counters, same))
            print(f"{variants[0]} on {g} GPUs: weave search {search:.3f} s (wall {wall:.1f} s), lists "
                  f"{'identical to' if same else 'DIFFERENT from'} {gpu_counts[0]} GPU", flush=True)

        cpu_search, cpu_wall, _ = knn(small, os.path.join(tmp, "cpu_small.h5"), args.cpu_ranks, "cpu", args)
        rows.append((f"weave knn cpu, {args.cpu_ranks} ranks, N={args.cpu_docs}", args.cpu_docs, cpu_search, cpu_wall))
        gs_search, gs_wall, _ = knn(small, os.path.join(tmp, "gpu_small.h5"), gpu_counts[0], "cuda", args, variants[0])
        rows.append((f"weave knn cuda {variants[0]}, N={args.cpu_docs}", args.cpu_docs, gs_search, gs_wall))
        a, c = h5py.File(os.path.join(tmp, "cpu_small.h5"), "r"), h5py.File(os.path.join(tmp, "gpu_small.h5"), "r")
        same_ids = np.array_equal(a["neighbors"][:], c["neighbors"][:])
        same_sims = np.array_equal(a["similarities"][:], c["similarities"][:])

    print(f"\n{'run':52} {'search s':>9} {'wall s':>8} {'eff TFLOP/s':>12}")
    rate = {}
    for name, docs, search, wall in rows:
        rate[name] = 2.0 * docs * docs * d / search / 1e12
        print(f"{name:52} {search:9.3f} {wall:8.2f} {rate[name]:12.2f}")
    for v in variants:
        print(f"{'cuBLASLt GEMM alone, same tiles, ' + v:52} {float(gemm[v]['tile_seconds']):9.3f} "
              f"{'':8} {float(gemm[v]['tile_tflops']):12.2f}")
    square_rate = float(gemm[variants[0]]["square_tflops"])
    print(f"{'cuBLASLt GEMM 8192^3 (reference)':52} {'':9} {'':8} {square_rate:12.2f}")
    gpu_rate, cpu_rate = rate[rows[0][0]], rate[rows[len(variants)][0]]
    print("\nratios")
    for v, row in zip(variants, rows):
        print(f"  {v}: end to end / GEMM of the same tiles: {rate[row[0]] / float(gemm[v]['tile_tflops']):.0%} "
              f"(goal >= 80%); / 8192^3 GEMM: {rate[row[0]] / square_rate:.0%}; ring steps alone (no set-up: "
              f"allocations, lists; the own rows go up during the first step) / GEMM: {float(gemm[v]['tile_seconds']) / steps[v]:.0%}")
    print(f"  GPU ({variants[0]}) / CPU backend ({args.cpu_ranks} ranks) effective rate: {gpu_rate / cpu_rate:.1f}x "
          f"(goal >= 50x)")
    gib = 1024.0 ** 3
    for g, search, counters, same in scaling:
        print(f"  ring scaling {gpu_counts[0]} -> {g} GPUs: {rows[0][2] / search:.2f}x (goal >= 1.8x); wait for "
              f"chunks {counters['ring_wait_seconds']['max']:.3f} s; lists {'identical' if same else 'DIFFERENT'}")
    print(f"  memory per GPU: {gpu_counters['gpu_memory_used_bytes']['max'] / gib:.2f} GiB in use "
          f"({gpu_counters['gpu_memory_weave_bytes']['max'] / gib:.2f} GiB weave's buffers)")
    print(f"  candidates re-scored ({variants[0]}): {gpu_counters['rescored_pairs']['max'] / n:.1f} per query")
    print(f"  lists GPU vs CPU on N={args.cpu_docs}: ids {'identical' if same_ids else 'DIFFERENT'}, "
          f"similarities {'identical' if same_sims else 'DIFFERENT'}")
    if not (same_ids and same_sims and all(s[3] for s in scaling)):
        sys.exit(1)


if __name__ == "__main__":
    main()
