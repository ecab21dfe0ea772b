#!/usr/bin/env python3
"""weave dedup: what a kNN graph finds of planted duplicates, and what dedup costs next to the kNN.

(a) recall: a corpus of distinct random documents plus planted groups of sizes 2..50 (an original
    and its copies: exact, or perturbed to a cosine of about 0.98 with the original); weave knn
    (exact) at k = 10 and 20, weave dedup at --threshold; a planted copy is found when dedup puts it
    in its original's group. Prints the share found per group size and k, the documents removed
    that were not planted copies (false positives), and whether "twin" groups merged: `size` exact
    copies of a near-copy (cosine ~0.985) of an exact group's original — above the threshold, but
    once a group has more than k members, its members' lists are full of each other (similarity 1)
    and the twin is in no list: what a kNN graph with k neighbours cannot see.
(b) time: weave dedup on a corpus and its kNN graph against weave knn --method exact on the same
    corpus (on its first N/f rows, scaled by f^2 when --exact-fraction f > 1), both in this run.

    /usr/bin/python3 benchmarks/dedup.py recall [--distinct 20000] [--dim 64] [--threshold 0.95] [--ranks 2]
    /usr/bin/python3 benchmarks/dedup.py time --corpus c.h5 --knn knn.h5 [--exact-fraction 8] [--ranks 2]
"""
import argparse
import json
import os
import sys
import tempfile

import h5py
import numpy as np

from bench_common import WEAVE, run, write_subset

SIZES = (2, 3, 5, 8, 12, 20, 30, 50)


def planted_corpus(path, distinct, dim, groups_per_size, noise, seed=1):
    rng = np.random.default_rng(seed)
    rows = list(rng.standard_normal((distinct, dim)).astype(np.float32))
    originals = rng.choice(distinct, len(SIZES) * groups_per_size, replace=False)
    planted = []  # (size, original, [copies], exact?)
    twins = []    # (size, original, [twin group members])
    at = 0
    for size in SIZES:
        for g in range(groups_per_size):
            o = int(originals[at])
            at += 1
            exact = g % 2 == 0
            copies = []
            for _ in range(size - 1):
                x = rows[o].copy()
                if not exact:  # noise of norm `noise` relative to the row: cosine ~ 1 / sqrt(1 + noise^2)
                    x = x + noise * np.linalg.norm(x) / np.sqrt(dim) * rng.standard_normal(dim).astype(np.float32)
                rows.append(x.astype(np.float32))
                copies.append(len(rows) - 1)
            planted.append((size, o, copies, exact))
            if exact:  # a twin group: `size` exact copies of a near-copy of the original (cosine ~0.985)
                t = rows[o] + 0.17 * np.linalg.norm(rows[o]) / np.sqrt(dim) * rng.standard_normal(dim).astype(np.float32)
                twin = []
                for _ in range(size):
                    rows.append(t.astype(np.float32))
                    twin.append(len(rows) - 1)
                twins.append((size, o, twin))
    emb = np.stack(rows)
    perm = rng.permutation(len(emb))
    where = np.empty_like(perm)
    where[perm] = np.arange(len(perm))
    with h5py.File(path, "w") as f:
        f["embeddings"] = emb[perm]
        f["lengths"] = rng.integers(50, 2000, len(emb)).astype(np.int64)
    return ([(s, int(where[o]), [int(where[c]) for c in cs], ex) for s, o, cs, ex in planted],
            [(s, int(where[o]), [int(where[c]) for c in cs]) for s, o, cs in twins], len(emb))


def recall(args):
    mpirun = ["mpirun", "-n", args.ranks, "--bind-to", "none"]
    one_thread = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "OMPI_MCA_mpi_yield_when_idle": "0"}
    with tempfile.TemporaryDirectory(prefix="weave-dedup-bench-") as tmp:
        corpus = os.path.join(tmp, "planted.h5")
        planted, twins, n = planted_corpus(corpus, args.distinct, args.dim, args.groups_per_size, args.noise)
        copies = {c for _, _, cs, _ in planted for c in cs} | {c for _, _, cs in twins for c in cs}
        print(f"corpus: {n} documents ({args.distinct} distinct + {len(copies)} planted copies in "
              f"{len(planted)} groups of sizes {SIZES}), d={args.dim}, threshold {args.threshold}")
        print("| k | group size | copies | exact copies found | perturbed copies found | twin groups merged |")
        print("|---|---|---|---|---|---|")
        for k in (10, 20):
            knn, dedup = os.path.join(tmp, f"knn{k}.h5"), os.path.join(tmp, f"dedup{k}.h5")
            run(mpirun + [WEAVE, "knn", "--corpus", corpus, "--k", k, "--method", "exact", "--out", knn, "--quiet"],
                env=one_thread)
            run(mpirun + [WEAVE, "dedup", "--corpus", corpus, "--knn", knn, "--threshold", args.threshold,
                          "--out", dedup, "--quiet"], env=one_thread)
            with h5py.File(dedup, "r") as f:
                rep = f["representative"][:]
            removed = np.nonzero(rep != np.arange(n))[0]
            false = [d for d in removed if d not in copies and not any(d == o for _, o, _, _ in planted)]
            for size in SIZES:
                found = {True: [0, 0], False: [0, 0]}
                for s, o, cs, ex in planted:
                    if s != size:
                        continue
                    for c in cs:
                        found[ex][0] += rep[c] == rep[o]
                        found[ex][1] += 1
                merged = [rep[o] == rep[cs[0]] for s, o, cs in twins if s == size]
                print(f"| {k} | {size} | {found[True][1] + found[False][1]} | {found[True][0] / found[True][1]:.3f} | "
                      f"{found[False][0] / found[False][1]:.3f} | {sum(merged)}/{len(merged)} |")
            print(f"k={k}: {len(removed)} documents removed, {len(false)} of them not planted (false positives)")


def timing(args):
    mpirun = ["mpirun", "-n", args.ranks, "--bind-to", "none"]
    one_thread = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "OMPI_MCA_mpi_yield_when_idle": "0"}
    with h5py.File(args.corpus, "r") as f:
        n = f["embeddings"].shape[0]
    with tempfile.TemporaryDirectory(prefix="weave-dedup-bench-") as tmp:
        rep = os.path.join(tmp, "dedup.json")
        _, wall = run(mpirun + [WEAVE, "dedup", "--corpus", args.corpus, "--knn", args.knn, "--threshold",
                                args.threshold, "--out", os.path.join(tmp, "dedup.h5"), "--report", rep, "--quiet"],
                      env=one_thread)
        r = json.load(open(rep))
        stages = {s["stage"]: s["wall_seconds"]["max"] for s in r["stages"]}
        dedup_seconds = sum(stages.values())
        f = args.exact_fraction
        rows = n // f
        path = args.corpus
        if f > 1:
            path = os.path.join(tmp, "subset.h5")
            write_subset(args.corpus, path, rows)
        erep = os.path.join(tmp, "exact.json")
        run(mpirun + [WEAVE, "knn", "--corpus", path, "--k", r["figures"]["k"], "--method", "exact", "--out",
                      os.path.join(tmp, "exact.h5"), "--report", erep, "--quiet"], env=one_thread)
        exact = sum(s["wall_seconds"]["max"] for s in json.load(open(erep))["stages"])
        exact_est = exact * f * f
    print(f"weave dedup, {n} documents, {args.ranks} ranks: {dedup_seconds:.2f} s "
          f"({', '.join(f'{k} {v:.2f}' for k, v in stages.items())}; {wall:.2f} s wall with start-up); "
          f"{r['figures']['groups']} groups, {r['figures']['removed_documents']} removed, "
          f"{r['figures']['component_iterations']} component iterations")
    print(f"weave knn --method exact: {exact:.2f} s on {rows} rows, estimate for {n}: {exact_est:.1f} s")
    print(f"  dedup / exact knn: {100 * dedup_seconds / exact_est:.3f}% (goal < 5%)")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=("recall", "time"))
    ap.add_argument("--ranks", type=int, default=2)
    ap.add_argument("--threshold", type=float, default=0.95)
    ap.add_argument("--distinct", type=int, default=20000)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--groups-per-size", type=int, default=10)
    ap.add_argument("--noise", type=float, default=0.2)
    ap.add_argument("--corpus")
    ap.add_argument("--knn")
    ap.add_argument("--exact-fraction", type=int, default=8)
    args = ap.parse_args()
    if args.mode == "time" and not (args.corpus and args.knn):
        sys.exit("time: give --corpus and --knn")
    recall(args) if args.mode == "recall" else timing(args)


if __name__ == "__main__":
    main()
