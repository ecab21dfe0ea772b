#!/usr/bin/python3
"""Stitching against the greedy in `weave order` (issue 14's "stitch <= greedy"), with one or more
weave binaries alternated on the same graphs, so that a change is measured against its base in one
run on a noisy machine.

For each graph (a directory holding c.h5 and k.h5) and each round, every binary runs `weave order`
at --ranks; from its --report this prints the greedy's seconds, the stitch stage's seconds less
the embedding rows it reads (counter embedding_read_seconds_stitch, in the first level that scores
anything: reading files is left out, as in benchmarks/order_vs_iclm.py), their ratio, the stitch
stage's page faults and the
peak memory per rank (max over ranks), and the mean adjacent similarity. Then per binary the range
and median of each, whether every binary wrote the same /order as the first (h5py), and the medians
of the first level's steps (the report's stitch_level_details: meetings, sketch scoring with the
settling of its links, the join) and of the later levels less their row reads.

--make DIR writes the synthetic graphs of docs/benchmarks.md (sessions 43-44) into DIR/s100k,
DIR/m128 and DIR/m768 first: `weave synth` with 1,000 topics, exact kNN (k = 10) at 10^5, the IVF
at --nprobe 3 at 10^6 (recall@10 1.000 on its sample there; exact would take ~25 min on 2 cores).
The real-text graph is made by hand: benchmarks/make_text_corpus.py manu/c.h5 --drop-repeated, then
`weave knn --k 10`.

Usage: benchmarks/stitch_vs_greedy.py [--make DIR] [--rounds 3] [--ranks 2]
           [--weave BASE --weave NEW ...] GRAPH_DIR ..."""
import argparse
import json
import os
import statistics
import tempfile

import h5py
import numpy as np

from bench_common import WEAVE
from bench_common import run as run_timed

ONE_THREAD = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "OMPI_MCA_mpi_yield_when_idle": "0"}

SYNTHETIC = {  # name: (documents, dimensions, kNN options)
    "s100k": (100000, 768, []),
    "m128": (1000000, 128, ["--method", "ivf", "--nprobe", 3]),
    "m768": (1000000, 768, ["--method", "ivf", "--nprobe", 3]),
}


def run(cmd):
    return run_timed(cmd, ONE_THREAD)[0]


def make_graphs(root, ranks, weave):
    for name, (docs, dim, knn_options) in SYNTHETIC.items():
        d = os.path.join(root, name)
        if os.path.exists(os.path.join(d, "k.h5")):
            print(f"{d}: kept")
            continue
        os.makedirs(d, exist_ok=True)
        run(["mpirun", "-n", ranks, weave, "synth", "--docs", docs, "--dim", dim, "--topics", 1000, "--out",
             os.path.join(d, "c.h5"), "--quiet"])
        run(["mpirun", "-n", ranks, weave, "knn", "--corpus", os.path.join(d, "c.h5"), "--k", 10, "--out",
             os.path.join(d, "k.h5"), "--quiet", *knn_options])
        print(f"{d}: made")


def one_run(weave, graph, ranks, out, report):
    run(["mpirun", "-n", ranks, "--bind-to", "none", weave, "order", "--knn", os.path.join(graph, "k.h5"), "--corpus",
         os.path.join(graph, "c.h5"), "--out", out, "--report", report, "--quiet"])
    rep = json.load(open(report))
    stages = {s["stage"]: s for s in rep["stages"]}
    greedy = stages["greedy"]["wall_seconds"]["max"]
    stitch = stages["stitch"]["wall_seconds"]["max"] - rep["counters"]["embedding_read_seconds_stitch"]["max"]
    adjacent = rep["figures"]["adjacent"]
    first = rep["figures"]["stitch_level_details"][0]
    return {
        # The first level's steps (max over ranks): meetings, sketch scoring and settling, the join.
        "meetings": first["candidate_seconds"],
        "scoring": first["score_seconds"],
        "join": first["join_seconds"],
        "later_levels": sum(level["seconds"] - level.get("read_seconds", 0)
                            for level in rep["figures"]["stitch_level_details"][1:]),
        "greedy": greedy,
        "stitch": stitch,
        "ratio": stitch / greedy,
        "faults": stages["stitch"]["page_faults"]["max"],
        "peak_gib": max(s["peak_memory_bytes"]["max"] for s in rep["stages"]) / 2**30,
        "similarity": adjacent["mean_similarity"] if isinstance(adjacent, dict) else adjacent,
    }


def span(values, digits=3):
    return f"{min(values):.{digits}f}-{max(values):.{digits}f} (median {statistics.median(values):.{digits}f})"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("graphs", nargs="*", help="directories with c.h5 (corpus) and k.h5 (kNN graph)")
    ap.add_argument("--weave", action="append", help="a weave binary (repeat to alternate several; "
                    "default: this build's)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--ranks", type=int, default=2)
    ap.add_argument("--make", metavar="DIR", help="make the synthetic graphs in DIR first (and measure them)")
    args = ap.parse_args()
    binaries = args.weave or [WEAVE]
    graphs = list(args.graphs)
    if args.make:
        make_graphs(args.make, args.ranks, binaries[0])
        graphs += [os.path.join(args.make, name) for name in SYNTHETIC]
    if not graphs:
        ap.error("no graph to measure: name graph directories or --make DIR")
    with tempfile.TemporaryDirectory(prefix="weave-stitch-bench-") as tmp:
        for graph in graphs:
            results = {b: [] for b in binaries}
            for r in range(args.rounds):
                for i, b in enumerate(binaries):
                    res = one_run(b, graph, args.ranks, os.path.join(tmp, f"order{i}.h5"), os.path.join(tmp, "r.json"))
                    results[b].append(res)
                    print(f"{graph} round {r + 1} binary {i}: greedy {res['greedy']:.3f} s, stitch less its row "
                          f"read {res['stitch']:.3f} s, stitch / greedy {res['ratio']:.2f}, faults "
                          f"{res['faults']:.0f}, peak {res['peak_gib']:.3f} GiB, mean adjacent similarity "
                          f"{res['similarity']:.5f}")
            with h5py.File(os.path.join(tmp, "order0.h5"), "r") as f:
                first = f["order"][:]
            for i, b in enumerate(binaries):
                runs = results[b]
                with h5py.File(os.path.join(tmp, f"order{i}.h5"), "r") as f:
                    same = np.array_equal(f["order"][:], first)
                print(f"{graph} binary {i} ({b}), {len(runs)} rounds, {args.ranks} ranks: greedy "
                      f"{span([x['greedy'] for x in runs])} s, stitch {span([x['stitch'] for x in runs])} s, "
                      f"stitch / greedy {span([x['ratio'] for x in runs], 2)}; peak "
                      f"{max(x['peak_gib'] for x in runs):.3f} GiB; "
                      f"{'the same order as binary 0' if same else 'AN ORDER UNLIKE BINARY 0'}")
                print(f"{graph} binary {i}, medians of the first level: meetings "
                      f"{statistics.median(x['meetings'] for x in runs):.4f} s, scoring and settling "
                      f"{statistics.median(x['scoring'] for x in runs):.4f} s, join "
                      f"{statistics.median(x['join'] for x in runs):.4f} s; later levels "
                      f"{statistics.median(x['later_levels'] for x in runs):.4f} s")


if __name__ == "__main__":
    main()
