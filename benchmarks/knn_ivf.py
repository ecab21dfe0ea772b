#!/usr/bin/python3
"""Benchmark of `weave knn --method ivf` on CPUs (issue: approximate kNN by a distributed IVF). In one
run, on one machine:
  (a) weave knn --method ivf with its defaults at R ranks (one BLAS thread each): time per phase,
      nlist and the nprobe it chose, the recall it measured on its own sample;
  (b) recall of (a) on an independent sample of queries against exact search done here with numpy
      (float64 dot products of the normalised rows; ties counted as hits);
  (c) faiss IndexIVFFlat in one process with R threads, built on weave's centroids (same clusters,
      same nprobe), adding and searching every document (k+1, self dropped), recall as in (b); and
      faiss's own k-means on a sample of the same size, timed for context;
  (d) weave knn --method exact at R ranks: on the whole corpus when --exact-fraction is 1, else on
      the first N/f rows and scaled by f^2 (the exact search is N^2 d work; the script also times
      N/(2f) rows to show the quadratic growth it relies on).
Prints the ratios: exact / ivf (goal >= 20x at recall >= 0.95 for 10^6 x 128), faiss / weave.

Usage: benchmarks/knn_ivf.py [--docs 1000000 --dim 128 --topics 1000 --topic-spread 1.0 | --corpus C.h5]
       [--k 10] [--ranks 2] [--exact-fraction 4] [--queries 1000] [--order] [ivf options passed on, e.g. --nprobe 8]
With --order (and --exact-fraction 1): (e) weave order on both graphs, the mean adjacent similarity
of each (goal: the IVF graph's >= 0.99 of the exact one's)."""
import argparse
import json
import os
import sys
import tempfile

import h5py
import numpy as np

from bench_common import BUILD, WEAVE, result_line, run, write_subset


def unit_rows(path):
    with h5py.File(path, "r") as f:
        x = f["embeddings"][:].astype(np.float64)
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def kth_similarities(x, queries, k):
    """The k-th largest similarity of each query row to the other rows (float64 dot products)."""
    out = np.empty(len(queries))
    for at in range(0, len(queries), 256):
        q = queries[at:at + 256]
        s = x[q].astype(np.float64) @ x.T.astype(np.float64)
        s[np.arange(len(q)), q] = -np.inf
        out[at:at + len(q)] = -np.partition(-s, k - 1, axis=1)[:, k - 1]
    return out


def recall(x, lists, queries, kth):
    """recall@k, ties counted: a listed neighbour is a hit when it is at least as similar as the exact
    k-th (within float32 rounding), so which of several tied documents a method keeps does not matter
    (corpora with duplicates have many exact ties)."""
    hits = 0
    for q, row, bar in zip(queries, lists[queries], kth):
        row = row[row >= 0]
        sims = x[row].astype(np.float64) @ x[q].astype(np.float64)
        hits += np.count_nonzero(sims >= bar - 1e-6)
    return hits / (len(queries) * lists.shape[1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=1000000)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--topics", type=int, default=1000)
    ap.add_argument("--topic-spread", type=float, default=1.0)
    ap.add_argument("--corpus", help="an existing corpus instead of a synthetic one")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--ranks", type=int, default=2)
    ap.add_argument("--exact-fraction", type=int, default=4)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--order", action="store_true",
                    help="also run weave order on the exact and the IVF graph (needs --exact-fraction 1)")
    args, ivf_options = ap.parse_known_args()
    r, k = args.ranks, args.k
    one_thread = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "OMPI_MCA_mpi_yield_when_idle": "0"}
    mpirun = ["mpirun", "-n", r, "--bind-to", "none"]

    with tempfile.TemporaryDirectory(prefix="weave-bench-") as tmp:
        corpus = args.corpus
        if corpus is None:
            corpus = os.path.join(tmp, "corpus.h5")
            run(mpirun + [WEAVE, "synth", "--docs", args.docs, "--dim", args.dim, "--topics", args.topics,
                          "--topic-spread", args.topic_spread, "--out", corpus, "--quiet"])
            print(f"corpus: weave synth {args.docs} x {args.dim}, {args.topics} topics, spread {args.topic_spread}")
        else:
            print(f"corpus: {corpus}")
        x = unit_rows(corpus)
        n, d = x.shape
        print(f"{n} x {d}, k={k}, {r} ranks; machine: {os.cpu_count()} cores")

        # (a) weave ivf
        out, report = os.path.join(tmp, "ivf.h5"), os.path.join(tmp, "ivf.json")
        _, ivf_wall = run(mpirun + [WEAVE, "knn", "--corpus", corpus, "--k", k, "--method", "ivf", "--out", out,
                                    "--report", report, "--quiet"] + ivf_options, env=one_thread)
        rep = json.load(open(report))
        fig, cnt = rep["figures"], rep["counters"]
        ivf_search = next(s for s in rep["stages"] if s["stage"] == "search")["wall_seconds"]["max"]
        with h5py.File(out, "r") as f:
            ivf_ids = f["neighbors"][:]
            centroids = f["centroids"][:]
            nlist, nprobe = int(f.attrs["nlist"]), int(f.attrs["nprobe"])
        phases = {p: cnt[p + "_seconds"]["max"] for p in ("train", "recall_sample", "assign", "shuffle", "search", "merge")
                  if p + "_seconds" in cnt}

        # (b) independent recall sample
        rng = np.random.default_rng(12345)
        queries = np.sort(rng.choice(n, size=min(args.queries, n), replace=False))
        kth = kth_similarities(x, queries, k)
        ivf_recall = recall(x, ivf_ids, queries, kth)

        # (c) faiss IndexIVFFlat on the same centroids and nprobe, R threads
        cfile, faiss_out = os.path.join(tmp, "centroids.f32"), os.path.join(tmp, "faiss.bin")
        centroids.astype(np.float32).tofile(cfile)
        text, _ = run([os.path.join(BUILD, "benchmarks", "faiss_ivf_baseline"), corpus, cfile, nlist, k, nprobe,
                       fig["ivf_train_sample"], faiss_out], env={"OMP_NUM_THREADS": str(r), "OPENBLAS_NUM_THREADS": str(r)})
        fr = result_line(text)
        faiss_ids = np.fromfile(faiss_out, dtype=np.int64).reshape(n, k)
        faiss_recall = recall(x, faiss_ids, queries, kth)
        faiss_train, faiss_add, faiss_search = (float(fr[key]) for key in ("train_seconds", "add_seconds", "search_seconds"))

        # (d) exact
        f = args.exact_fraction
        exact_times = {}
        for rows in ([n] if f == 1 else [n // (2 * f), n // f]):
            path = corpus if rows == n else os.path.join(tmp, f"subset{rows}.h5")
            if rows != n:
                write_subset(corpus, path, rows)
            rep_path = os.path.join(tmp, f"exact{rows}.json")
            run(mpirun + [WEAVE, "knn", "--corpus", path, "--k", k, "--method", "exact", "--out",
                          os.path.join(tmp, f"exact{rows}.h5"), "--report", rep_path, "--quiet"], env=one_thread)
            exact_times[rows] = next(s for s in json.load(open(rep_path))["stages"]
                                     if s["stage"] == "search")["wall_seconds"]["max"]
        exact_rows = max(exact_times)
        exact_est = exact_times[exact_rows] * (n / exact_rows) ** 2

        # (e) the order each graph gives: mean similarity of adjacent documents
        adjacent = {}
        if args.order and exact_rows == n:
            for name, graph in (("exact", os.path.join(tmp, f"exact{n}.h5")), ("ivf", out)):
                rep_path = os.path.join(tmp, f"order_{name}.json")
                run(mpirun + [WEAVE, "order", "--corpus", corpus, "--knn", graph, "--out",
                              os.path.join(tmp, f"order_{name}.h5"), "--report", rep_path, "--quiet"], env=one_thread)
                adjacent[name] = json.load(open(rep_path))["figures"]["adjacent"]["mean_similarity"]

    print(f"\nweave ivf: nlist {nlist}, nprobe {nprobe} (chosen: {'--nprobe' not in ivf_options}), pairs "
          f"{fig['pairs_fraction']:.4f} of N^2, clusters {fig['cluster_size_min']}..{fig['cluster_size_max']} "
          f"(mean {fig['cluster_size_mean']:.0f}), rounds {fig['ivf_rounds']}")
    print("  phases (s, slowest rank): " + ", ".join(f"{p} {t:.2f}" for p, t in phases.items()))
    print(f"  search stage {ivf_search:.2f} s, wall {ivf_wall:.2f} s; recall@{k}: own sample {fig['recall_at_k']:.4f}, "
          f"independent sample {ivf_recall:.4f}")
    print(f"faiss IndexIVFFlat ({r} threads, same centroids, nprobe {nprobe}): add {faiss_add:.2f} s, search "
          f"{faiss_search:.2f} s; recall@{k} {faiss_recall:.4f}; faiss k-means on {fig['ivf_train_sample']} rows "
          f"{faiss_train:.2f} s")
    print("weave exact: " + ", ".join(f"{rows} rows {t:.2f} s" for rows, t in sorted(exact_times.items())))
    if len(exact_times) == 2:
        (a, ta), (b, tb) = sorted(exact_times.items())
        print(f"  growth {a} -> {b} rows: {tb / ta:.2f}x (quadratic: {(b / a) ** 2:.2f}x)")
    print(f"  estimate for {n} rows: {exact_est:.1f} s")
    if adjacent:
        print(f"weave order: mean adjacent similarity {adjacent['exact']:.5f} on the exact graph, {adjacent['ivf']:.5f} "
              f"on the IVF graph")
    print("\nratios")
    print(f"  exact / ivf (search stages): {exact_est / ivf_search:.1f}x at recall {ivf_recall:.4f}")
    print(f"  faiss (add + search) / weave ivf search stage: {(faiss_add + faiss_search) / ivf_search:.2f}x")
    print(f"  faiss (k-means + add + search) / weave ivf search stage: "
          f"{(faiss_train + faiss_add + faiss_search) / ivf_search:.2f}x")
    if adjacent:
        print(f"  order on the IVF graph / on the exact graph (mean adjacent similarity): "
              f"{adjacent['ivf'] / adjacent['exact']:.4f} (goal >= 0.99)")


if __name__ == "__main__":
    main()
