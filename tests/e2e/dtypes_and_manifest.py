"""Corpora made with plain h5py/numpy (docs/format.md's recipe): float16 and bfloat16-as-uint16
embeddings, sharded behind a manifest, read by `weave inspect --json` at 1, 2 and 3 ranks; every
figure is recomputed here with numpy."""
import json
import os

import h5py
import numpy as np

import weave_e2e as e2e

rng = np.random.default_rng(42)
N, D = 1003, 16
emb = rng.standard_normal((N, D)).astype(np.float32)
lengths = np.maximum(1, rng.lognormal(np.log(300), 1.4, N)).astype(np.int64)
sources = rng.integers(0, 3, N).astype(np.int32)
topics = rng.integers(0, 17, N).astype(np.int32)
doc_ids = rng.permutation(10 * N)[:N].astype(np.int64)


def to_bfloat16_bits(x):
    bits = x.astype(np.float32).view(np.uint32)
    return ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16)


def expected_summary():
    s = np.sort(lengths)
    pct = {}
    for p in (0.01, 0.10, 0.50, 0.90, 0.99, 0.999):
        k = max(1, int(np.ceil(p * N)))  # nearest rank
        pct[p] = int(s[k - 1])
    src = {str(i): {"documents": int((sources == i).sum()), "tokens": int(lengths[sources == i].sum())} for i in range(3)}
    return pct, src


with e2e.scratch() as tmp:
    cuts = [0, 400, 401, 1003]
    with open(os.path.join(tmp, "corpus.txt"), "w") as manifest:
        for s, (a, b) in enumerate(zip(cuts[:-1], cuts[1:])):
            name = f"shard{s}.h5"
            with h5py.File(os.path.join(tmp, name), "w") as f:
                if s == 1:  # bfloat16 bit patterns in uint16, marked by the dtype attribute
                    f["embeddings"] = to_bfloat16_bits(emb[a:b])
                    f["embeddings"].attrs["dtype"] = "bfloat16"
                else:
                    f["embeddings"] = emb[a:b].astype(np.float16)
                f["lengths"] = lengths[a:b].astype(np.int32 if s == 0 else np.uint16)  # any integer type
                f["doc_ids"] = doc_ids[a:b]
                f["sources"] = sources[a:b]
                f["topics"] = topics[a:b]
            manifest.write(name + "\n")
    pct, src = expected_summary()
    for ranks in (1, 2, 3):
        r = e2e.run(ranks, "inspect", os.path.join(tmp, "corpus.txt"), "--json")
        e2e.expect_ok(r, f"inspect at {ranks} ranks")
        got = json.loads(r.stdout)
        checks = {
            "documents": (got["documents"], N),
            "dim": (got["dim"], D),
            "shards": (got["shards"], 3),
            "dtype": (got["dtype"], "mixed (float16, bfloat16)"),
            "total_tokens": (got["total_tokens"], int(lengths.sum())),
            "max_tokens": (got["max_tokens"], int(lengths.max())),
            "distinct_topics": (got["distinct_topics"], int(len(np.unique(topics)))),
            "sources": (got["sources"], src),
            "p50": (got["length_percentiles"]["p50"], pct[0.5]),
            "p99.9": (got["length_percentiles"]["p99.9"], pct[0.999]),
            "p1": (got["length_percentiles"]["p1"], pct[0.01]),
        }
        bad = {k: v for k, v in checks.items() if v[0] != v[1]}
        if bad:
            e2e.fail(f"inspect at {ranks} ranks: (got, expected) {bad}")
        print(f"ok: inspect --json at {ranks} ranks matches numpy")
