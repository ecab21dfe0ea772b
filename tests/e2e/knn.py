"""`weave knn` end to end: the same knn.h5 at 1, 2 and 3 ranks (checked with h5py), the schema and
attributes, a brute-force check of a sample of rows with numpy, and rejected options."""
import json
import os

import h5py
import numpy as np

import weave_e2e as e2e

with e2e.scratch() as tmp:
    corpus = os.path.join(tmp, "c.h5")
    e2e.expect_ok(e2e.run(2, "synth", "--docs", 2000, "--dim", 24, "--topics", 20, "--duplicate-share", 0.1,
                          "--out", corpus, "--quiet"), "synth")
    lists = {}
    for ranks in (1, 2, 3):
        out = os.path.join(tmp, f"knn{ranks}.h5")
        report = os.path.join(tmp, f"knn{ranks}.json")
        r = e2e.run(ranks, "knn", "--corpus", corpus, "--k", 8, "--out", out, "--report", report,
                    "--max-block-rows", 300)
        e2e.expect_ok(r, f"knn at {ranks} ranks")
        assert "weave knn: wrote" in r.stdout, r.stdout
        with h5py.File(out, "r") as f:
            assert f["neighbors"].shape == (2000, 8) and f["neighbors"].dtype == np.int64
            assert f["similarities"].shape == (2000, 8) and f["similarities"].dtype == np.float32
            assert f.attrs["k"] == 8 and f.attrs["metric"] == "cosine" and f.attrs["method"] == "exact"
            assert f.attrs["backend"] == "cpu" and json.loads(f.attrs["corpus"])["documents"] == 2000
            lists[ranks] = (f["neighbors"][:], f["similarities"][:])
        rep = json.load(open(report))
        assert rep["counters"]["ring_steps"]["max"] >= ranks
        assert [s["stage"] for s in rep["stages"]] == ["read_corpus", "search", "write"]
    for ranks in (2, 3):
        if not (np.array_equal(lists[1][0], lists[ranks][0]) and np.array_equal(lists[1][1], lists[ranks][1])):
            e2e.fail(f"knn.h5 differs between 1 and {ranks} ranks")
    print("ok: identical knn.h5 at 1, 2, 3 ranks")

    # Brute force with numpy on a sample of rows (float64 dot of the normalised float32 rows).
    with h5py.File(corpus, "r") as f:
        x = f["embeddings"][:].astype(np.float32)
    x = (x / np.linalg.norm(x.astype(np.float64), axis=1, keepdims=True)).astype(np.float32)
    ids, sims = lists[1]
    for q in range(0, 2000, 97):
        s = (x.astype(np.float64) @ x[q].astype(np.float64)).astype(np.float32)
        s[q] = -np.inf
        order = sorted(range(2000), key=lambda i: (-s[i], i))[:8]
        # Normalisation here is numpy's, not weave's: allow 1e-6 in similarity, and ties within it.
        assert np.allclose(sims[q], s[order], atol=1e-6), (q, sims[q], s[order])
        assert set(ids[q]) == set(order) or np.allclose(s[ids[q]], s[order], atol=1e-6), (q, ids[q], order)
    print("ok: sampled rows match numpy brute force")

    out = os.path.join(tmp, "bad.h5")
    e2e.run_expecting_user_error(2, ["knn", "--corpus", corpus, "--k", 0, "--out", out], ["--k must be in [1, 1024]"], "k=0")
    e2e.run_expecting_user_error(2, ["knn", "--corpus", corpus, "--k", 2000, "--out", out], ["--k must be in"], "k=2000")
    e2e.run_expecting_user_error(2, ["knn", "--corpus", corpus, "--out", out, "--gpu-resident-rows", -1],
                                 ["--gpu-resident-rows must be >= 0"], "gpu-resident-rows=-1")
    e2e.run_expecting_user_error(2, ["knn", "--corpus", os.path.join(tmp, "none.h5"), "--out", out], ["no such file"],
                                 "missing corpus")
    assert not os.path.exists(out) and not os.path.exists(out + ".tmp")
    print("ok: rejected options, no output left")

    # --backend cuda at 1 and 3 ranks: the CPU lists bit for bit where every rank has a GPU of its
    # own; where not (no GPU, fewer GPUs than ranks, no CUDA in the build), a one-line error and
    # exit status 2 on every rank, no output.
    for ranks in (1, 3):
        gpu_out = os.path.join(tmp, f"gpu{ranks}.h5")
        args = ["knn", "--corpus", corpus, "--k", 8, "--out", gpu_out, "--backend", "cuda", "--gpu-query-tile", 700,
                "--gpu-database-tile", 500, "--max-block-rows", 300]
        r = e2e.run(ranks, *args)
        if r.returncode == 0:
            with h5py.File(gpu_out, "r") as f:
                assert f.attrs["backend"] == "cuda"
                if not (np.array_equal(f["neighbors"][:], lists[1][0]) and
                        np.array_equal(f["similarities"][:], lists[1][1])):
                    e2e.fail(f"--backend cuda lists at {ranks} ranks differ from the CPU backend's")
            print(f"ok: --backend cuda at {ranks} ranks wrote the CPU backend's lists")
        else:
            e2e.run_expecting_user_error(ranks, args, ["--backend cuda"], f"--backend cuda at {ranks} ranks without a GPU each")
            assert not os.path.exists(gpu_out) and not os.path.exists(gpu_out + ".tmp")
