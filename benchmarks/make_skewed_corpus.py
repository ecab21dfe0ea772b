#!/usr/bin/python3
"""A skewed corpus for the IVF's memory bound (docs/benchmarks.md, "Approximate kNN"): half of the
documents one topic (a shared direction plus noise), the other half spread over 2,000 small topics,
rows shuffled so the big topic lies on every rank. Deterministic (seed 7).

Usage: benchmarks/make_skewed_corpus.py OUT.h5 [--docs 400000] [--dim 64]"""
import argparse

import h5py
import numpy as np

ap = argparse.ArgumentParser()
ap.add_argument("out")
ap.add_argument("--docs", type=int, default=400000)
ap.add_argument("--dim", type=int, default=64)
args = ap.parse_args()
n, d = args.docs, args.dim
rng = np.random.default_rng(7)
x = rng.normal(size=(n, d)).astype(np.float32) * 0.6
big = n // 2
x[:big, 0] += 4.0
centres = rng.normal(size=(2000, d)).astype(np.float32)
x[big:] += centres[rng.integers(0, 2000, n - big)] * 2.0
perm = rng.permutation(n)
with h5py.File(args.out, "w") as f:
    f["embeddings"] = x[perm]
    f["lengths"] = np.full(n, 100, dtype=np.int64)
