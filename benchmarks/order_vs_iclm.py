#!/usr/bin/python3
"""`weave order` against the public ICLM reference code's traversal (Shi et al. 2023,
github swj0419/in-context-pretraining, sort/sort.py: `sort()` then `merge()`), on the same kNN graph,
timed in one run.

The reference is not part of Weave: fetch a snapshot of that repository somewhere else and give its
sort/ folder with --reference. It runs here unchanged, with the workarounds it needs to run at all:
its imports of ipdb and tqdm are stubbed (a no-op progress bar makes it faster, not slower), its
kNN file loader is replaced by an array built from weave's knn.h5 (column 0 is the document itself,
as in the faiss search results it was written for), and its pickles go to a temporary folder.

Time counted: for weave, every stage of `weave order` except reading and writing files (max over
ranks, from --report; the embedding rows read inside stitch and quality are left out too); for the
reference, sort() + merge(). Quality: the mean cosine similarity of adjacent documents of each
order, computed here with numpy from the corpus.

Usage: benchmarks/order_vs_iclm.py --corpus C.h5 --knn K.h5 --reference PATH/sort [--ranks 2]"""
import argparse
import importlib
import json
import os
import sys
import tempfile
import time
import types

import h5py
import numpy as np

from bench_common import WEAVE
from bench_common import run as run_timed

ONE_THREAD = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "OMPI_MCA_mpi_yield_when_idle": "0"}


def stub_modules():
    ipdb = types.ModuleType("ipdb")
    ipdb.set_trace = lambda *a, **k: None
    tqdm = types.ModuleType("tqdm")

    class Bar:
        def __init__(self, iterable=None, *a, **k):
            self.iterable = iterable

        def __iter__(self):
            return iter(self.iterable)

        def __enter__(self):
            return self

        def __exit__(self, *a):
            return False

        def update(self, *a):
            pass

    tqdm.tqdm = Bar
    sys.modules.setdefault("ipdb", ipdb)
    sys.modules.setdefault("tqdm", tqdm)


def reference_order(reference_dir, knn_path, workdir):
    """The reference's sort() + merge() on weave's graph; returns (order, seconds)."""
    stub_modules()
    sys.path.insert(0, reference_dir)
    sort_module = importlib.import_module("sort")
    with h5py.File(knn_path, "r") as f:
        neighbors = f["neighbors"][:]
    n = len(neighbors)
    knns = np.concatenate([np.arange(n, dtype=np.int64)[:, None], neighbors], axis=1)  # self first, like faiss
    s = sort_module.sort_class.__new__(sort_module.sort_class)
    # What __init__ sets, minus its file loading (the constructor opens the paper's kNN files).
    s.num_docs, s.seen_docs, s.unseen_docs = n, set(), set(range(n))
    s.output_file, s.cur_k, s.filter_docs, s.file_name_base = workdir, None, [], "I0000000000"
    s.cluster2docs, s.doc2cluster = sort_module.defaultdict(list), {}
    s.num_docs_per_file, s.cluster_size, s.all_knns = 50000000, 21, [knns]
    s.load_all_knns = lambda: None
    # Its merge() crashes when all ten listed neighbours of a document of a small cluster are in that
    # cluster (a clique of duplicates: `index(None)`): such a document then goes to the nearest
    # listed neighbour in another cluster, or to the front of the first other cluster.
    listed = s.output_first_doc_knn_not_in_the_cluster

    def not_in_the_cluster(knn, cluster_id):
        k, k_cluster = listed(knn, cluster_id)
        if k is not None:
            return k, k_cluster
        for other in knn[1:]:
            if s.doc2cluster[other] != cluster_id:
                return other, s.doc2cluster[other]
        k_cluster = next(c for c in s.cluster2docs if c != cluster_id)
        return s.cluster2docs[k_cluster][0], k_cluster

    s.output_first_doc_knn_not_in_the_cluster = not_in_the_cluster
    t0 = time.perf_counter()
    s.sort()
    t_sort = time.perf_counter() - t0
    # sort() leaves its very first document out of doc2cluster, which merge() then looks up.
    path = os.path.join(workdir, "doc2cluster.pk")
    with open(path, "rb") as f:
        doc2cluster = sort_module.pickle.load(f)
    doc2cluster.setdefault(s.cluster2docs[0][0], 0)
    with open(path, "wb") as f:
        sort_module.pickle.dump(doc2cluster, f)
    t1 = time.perf_counter()
    s.merge()
    seconds = t_sort + time.perf_counter() - t1
    with open(os.path.join(workdir, "cluster2docs_merge.pk"), "rb") as f:
        clusters = sort_module.pickle.load(f)
    order = np.array([d for docs in clusters.values() for d in docs], dtype=np.int64)
    return order, seconds, t_sort


def mean_adjacent(x, order):
    return float(np.mean(np.einsum("ij,ij->i", x[order[:-1]], x[order[1:]])))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--knn", required=True)
    ap.add_argument("--reference", required=True, help="the sort/ folder of a snapshot of the ICLM repository")
    ap.add_argument("--ranks", type=int, default=2)
    args = ap.parse_args()
    with h5py.File(args.corpus, "r") as f:
        x = f["embeddings"][:].astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    with tempfile.TemporaryDirectory(prefix="weave-vs-iclm-") as tmp:
        out, report = os.path.join(tmp, "order.h5"), os.path.join(tmp, "order.json")
        run_timed(["mpirun", "-n", args.ranks, "--bind-to", "none", WEAVE, "order", "--knn", args.knn, "--corpus",
                   args.corpus, "--out", out, "--report", report, "--quiet"], ONE_THREAD)
        rep = json.load(open(report))
        stages = {s["stage"]: s["wall_seconds"]["max"] for s in rep["stages"]}
        # Reading embedding rows inside stitch and quality is reading files too (timed apart).
        counters = rep["counters"]
        row_read = {stage: counters.get(f"embedding_read_seconds_{stage}", {"max": 0.0})["max"]
                    for stage in ("stitch", "quality")}
        weave_s = sum(v for k, v in stages.items() if k not in ("read", "write")) - sum(row_read.values())
        with h5py.File(out, "r") as f:
            weave_order = f["order"][:]
        ref_order, ref_s, ref_sort_s = reference_order(args.reference, args.knn, tmp)
    n = len(x)
    assert np.array_equal(np.sort(ref_order), np.arange(n)), "the reference's order is not a permutation"
    w_q, r_q = mean_adjacent(x, weave_order), mean_adjacent(x, ref_order)
    print(f"graph: {args.knn}, {n} documents")
    print(f"weave order, {args.ranks} ranks: {weave_s:.3f} s without read/write "
          f"({', '.join(f'{k} {v:.3f}' for k, v in stages.items())}; reading embedding rows in stitch "
          f"{row_read['stitch']:.3f}, in quality {row_read['quality']:.3f}, not counted); mean adjacent similarity {w_q:.4f}")
    print(f"ICLM reference, 1 process: {ref_s:.3f} s (sort {ref_sort_s:.3f}, merge {ref_s - ref_sort_s:.3f}); "
          f"mean adjacent similarity {r_q:.4f}")
    print(f"ratio: weave is {ref_s / weave_s:.2f}x faster; quality {w_q / r_q:.3f}x the reference's")
    stitch_s = stages["stitch"] - row_read["stitch"]
    print(f"stitch / greedy time (without reading rows): {stitch_s:.3f} / {stages['greedy']:.3f} s = "
          f"{stitch_s / stages['greedy']:.2f}")
    for l in rep["figures"]["stitch_level_details"]:
        print(f"  stitch {l['method']:10} reach {l['reach']:3}: {l['paths']:8} paths {l['ends']:8} ends {l['candidates']:8} "
              f"candidates {l.get('sketches_fetched', 0):8} sketches {l['rows_fetched']:8} rows fetched {l['accepted']:8} joined "
              f"{l['seconds']:.3f} s")


if __name__ == "__main__":
    main()
