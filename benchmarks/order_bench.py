#!/usr/bin/python3
"""Benchmark of `weave order` (issue: distributed document order). In one run:
  a clustered corpus and its kNN graph generated directly (order_graph_gen, no kNN search),
  the sequential greedy oracle (order_oracle: Boost disjoint sets, one process) timed,
  `weave order` (greedy) at 1 and 2 ranks: greedy time, rounds, memory per rank, quality,
  `weave order --algorithm iclm`: quality; random pairs: quality.
Prints the ratios. Usage: benchmarks/order_bench.py [--docs 1000000] [--k 10] [--topics 1000] [--dim 32]"""
import argparse
import json
import os
import sys
import tempfile

from bench_common import BUILD, WEAVE, result_line
from bench_common import run as run_timed

ONE_THREAD = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}


def run(cmd):
    return run_timed(cmd, ONE_THREAD)[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=1000000)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--topics", type=int, default=1000)
    ap.add_argument("--dim", type=int, default=32)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="weave-order-bench-") as tmp:
        run(["mpirun", "-n", 2, os.path.join(BUILD, "benchmarks", "order_graph_gen"), args.docs, args.k, args.topics,
             args.dim, tmp])
        corpus, knn = os.path.join(tmp, "corpus.h5"), os.path.join(tmp, "knn.h5")
        oracle = result_line(run([os.path.join(BUILD, "benchmarks", "order_oracle"), knn]))
        oracle_s = float(oracle["seconds"])
        print(f"graph: {args.docs} documents, k={args.k}, {args.topics} topics, d={args.dim}; "
              f"{oracle['edges']} undirected edges, sequential greedy accepts {oracle['accepted']}")
        runs = {}
        for algorithm, ranks in (("greedy", 1), ("greedy", 2), ("iclm", 2)):
            report = os.path.join(tmp, f"{algorithm}{ranks}.json")
            run(["mpirun", "-n", ranks, "--bind-to", "none", WEAVE, "order", "--knn", knn, "--corpus", corpus,
                 "--out", os.path.join(tmp, f"{algorithm}{ranks}.h5"), "--algorithm", algorithm, "--report", report,
                 "--quiet"])
            runs[(algorithm, ranks)] = json.load(open(report))

    def stage(rep, name):
        return next(s for s in rep["stages"] if s["stage"] == name)["wall_seconds"]["max"]

    print(f"\nsequential greedy oracle (1 process): {oracle_s:.3f} s")
    print(f"{'run':22} {'greedy s':>9} {'stitch s':>9} {'total s':>8} {'rounds':>7} {'tail':>9} {'peak MiB/rank':>14}")
    for (algorithm, ranks), rep in runs.items():
        total = sum(s["wall_seconds"]["max"] for s in rep["stages"])
        fig = rep["figures"]
        mem = rep["peak_memory_bytes"]["max"] / 2**20
        if algorithm == "greedy":
            print(f"{'greedy, ' + str(ranks) + ' rank(s)':22} {stage(rep, 'greedy'):9.3f} {stage(rep, 'stitch'):9.3f} "
                  f"{total:8.2f} {fig['rounds']:7d} {fig['tail_edges']:9d} {mem:14.1f}")
        else:
            print(f"{'iclm, ' + str(ranks) + ' rank(s)':22} {stage(rep, 'iclm'):9.3f} {'':9} {total:8.2f} {'':7} {'':9} {mem:14.1f}")
    g, i = runs[("greedy", 2)]["figures"], runs[("iclm", 2)]["figures"]
    print(f"\n{'order':14} {'mean adjacent sim':>18} {'kNN-edge share':>15} {'topic purity':>13}")
    for name, a in (("greedy", g["adjacent"]), ("iclm", i["adjacent"]), ("random pairs", g["random_pairs"])):
        print(f"{name:14} {a['mean_similarity']:18.4f} {a['knn_edge_share']:15.3f} {a.get('topic_purity', float('nan')):13.3f}")
    print(f"path-cover upper bound: {g['path_cover_upper_bound']:.1f}; greedy kNN weight / bound: {g['knn_weight_to_bound']:.3f}, "
          f"iclm: {i['knn_weight_to_bound']:.3f}")
    print("\nratios")
    for r in (1, 2):
        print(f"  sequential oracle time / greedy time at {r} rank(s): {oracle_s / stage(runs[('greedy', r)], 'greedy'):.2f}x")
    print(f"  greedy mean adjacent similarity / iclm: {g['adjacent']['mean_similarity'] / i['adjacent']['mean_similarity']:.3f}")
    print(f"  accepted edges per round (2 ranks): {runs[('greedy', 2)]['figures']['accepted_per_round']}")


if __name__ == "__main__":
    main()
