"""`weave synth --docs 100000 --dim 128 --topics 200` under 2 ranks makes a file that plain h5py reads
with the schema of docs/format.md, and the same file at 1 and 3 ranks (identical content)."""
import os

import h5py
import numpy as np

import weave_e2e as e2e

ARGS = ["synth", "--docs", 100000, "--dim", 128, "--topics", 200, "--quiet"]


def check_schema(path):
    with h5py.File(path, "r") as f:
        emb, lengths = f["embeddings"], f["lengths"]
        assert emb.shape == (100000, 128) and emb.dtype == np.float32, (emb.shape, emb.dtype)
        assert lengths.shape == (100000,) and np.issubdtype(lengths.dtype, np.integer)
        for name, dtype in (("doc_ids", np.int64), ("sources", np.int32), ("topics", np.int32)):
            assert f[name].shape == (100000,) and f[name].dtype == dtype, (name, f[name].dtype)
        e, l = emb[:], lengths[:]
        assert np.isfinite(e).all() and (np.linalg.norm(e, axis=1) > 0).all()
        assert (l >= 16).all() and (l <= 262144).all()
        assert 250 <= np.median(l) <= 350, np.median(l)
        assert (l > 32768).sum() > 0, "no heavy tail beyond 32K tokens"
        assert len(np.unique(f["doc_ids"][:])) == 100000
        topics = f["topics"][:]
        assert topics.min() >= 0 and topics.max() < 200 and len(np.unique(topics)) == 200
        # Documents of one topic are closer to each other than to other topics.
        u = e / np.linalg.norm(e, axis=1, keepdims=True)
        same = [(u[topics == t][:50] @ u[topics == t][:50].T).mean() for t in range(5)]
        cross = (u[topics == 0][:50] @ u[topics == 1][:50].T).mean()
        assert min(same) > cross + 0.2, (same, cross)
        assert f.attrs["creator"] == "weave synth"
        return {k: f[k][:] for k in ("embeddings", "lengths", "doc_ids", "sources", "topics")}


with e2e.scratch() as tmp:
    results = {}
    for ranks in (2, 1, 3):
        out = os.path.join(tmp, f"c{ranks}.h5")
        r = e2e.run(ranks, *ARGS, "--out", out, timeout=300)
        e2e.expect_ok(r, f"synth at {ranks} ranks")
        assert not os.path.exists(out + ".tmp")
        results[ranks] = check_schema(out)
        print(f"ok: synth at {ranks} ranks: schema checked with h5py")
    for ranks in (1, 3):
        for k, v in results[2].items():
            if not np.array_equal(v, results[ranks][k]):
                e2e.fail(f"/{k} differs between 2 and {ranks} ranks")
    print("ok: identical content at 1, 2 and 3 ranks")
