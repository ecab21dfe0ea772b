"""`weave order` end to end: the same order.h5 at 1, 2 and 3 ranks, a permutation with consistent
path offsets and link similarities (recomputed with numpy), greedy above iclm on a clustered
corpus, and bad inputs (exit 2, no output)."""
import json
import os

import h5py
import numpy as np

import weave_e2e as e2e

with e2e.scratch() as tmp:
    corpus, knn = os.path.join(tmp, "c.h5"), os.path.join(tmp, "knn.h5")
    e2e.expect_ok(e2e.run(2, "synth", "--docs", 3000, "--dim", 32, "--topics", 30, "--out", corpus, "--quiet"), "synth")
    e2e.expect_ok(e2e.run(2, "knn", "--corpus", corpus, "--k", 10, "--out", knn, "--quiet"), "knn")
    results, figures = {}, {}
    for ranks in (1, 2, 3):
        out = os.path.join(tmp, f"order{ranks}.h5")
        r = e2e.run(ranks, "order", "--knn", knn, "--corpus", corpus, "--out", out, "--report", out + ".json")
        e2e.expect_ok(r, f"order at {ranks} ranks")
        assert "weave order: wrote" in r.stdout, r.stdout
        with h5py.File(out, "r") as f:
            results[ranks] = {k: f[k][:] for k in ("order", "path_offsets", "link_similarity")}
            attrs = dict(f.attrs)
            quality = json.loads(attrs["quality"])
            figures[ranks] = (attrs["mean_link_similarity"], attrs["knn_edge_share"], quality["adjacent"],
                              quality["random_pairs"], quality["path_cover_upper_bound"])
        report = json.load(open(out + ".json"))
        fig = report["figures"]
        assert fig["rounds"] >= (0 if ranks == 1 else 1) and "accepted_per_round" in fig
        assert fig["greedy_edges"] >= fig["accepted_locally"]
        # The rank-local pass runs on one rank, or where most edges are rank-local (the default 0.75).
        assert fig["greedy_local_pass"] == (ranks == 1 or fig["greedy_local_slot_share"] >= 0.75), fig
        assert (fig["accepted_locally"] > 0) == fig["greedy_local_pass"], fig
    for ranks in (2, 3):
        for k, v in results[1].items():
            if not np.array_equal(v, results[ranks][k], equal_nan=True):
                e2e.fail(f"/{k} differs between 1 and {ranks} ranks")
        if figures[ranks] != figures[1]:  # summed exactly: the same bits at any rank count
            e2e.fail(f"quality figures differ between 1 and {ranks} ranks: {figures[1]} / {figures[ranks]}")
    print("ok: identical order.h5 (and its quality figures) at 1, 2, 3 ranks")

    order, offsets, link = results[1]["order"], results[1]["path_offsets"], results[1]["link_similarity"]
    assert np.array_equal(np.sort(order), np.arange(3000)), "not a permutation"
    assert offsets[0] == 0 and offsets[-1] == 3000 and np.all(np.diff(offsets) > 0)
    assert attrs["algorithm"] == "greedy" and attrs["num_docs"] == 3000 and attrs["num_paths"] == len(offsets) - 1
    with h5py.File(corpus, "r") as f:
        x = f["embeddings"][:].astype(np.float64)
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    sims = np.einsum("ij,ij->i", x[order[:-1]], x[order[1:]])
    assert np.isnan(link[0]) and np.allclose(link[1:], sims, atol=1e-5), "link_similarity disagrees with numpy"
    assert abs(attrs["mean_link_similarity"] - np.mean(link[1:])) < 1e-6
    # The random-order figures are exact means over all pairs of distinct documents.
    random = json.loads(attrs["quality"])["random_pairs"]
    n, total = len(x), x.sum(axis=0)
    assert random["pairs"] == n * (n - 1) // 2
    assert abs(random["mean_similarity"] - (total @ total - n) / (n * (n - 1))) < 1e-7, (random, (total @ total - n) / (n * (n - 1)))
    with h5py.File(corpus, "r") as f:
        _, per_topic = np.unique(f["topics"][:], return_counts=True)
    assert abs(random["topic_purity"] - (per_topic * (per_topic - 1)).sum() / (n * (n - 1))) < 1e-12, random
    with h5py.File(knn, "r") as f:
        nbrs = f["neighbors"][:]
    rows = np.repeat(np.arange(n), nbrs.shape[1])
    edges = {(min(a, b), max(a, b)) for a, b in zip(rows, nbrs.ravel()) if b >= 0}
    assert abs(random["knn_edge_share"] - len(edges) / random["pairs"]) < 1e-12, random
    print("ok: permutation, path offsets and link similarities check out")

    # order reads only the rows it needs: the sampled rows of the fingerprint (ids 0..1023 here:
    # every 16th block of 1,024) and the greedy paths' ends (stitching and the stitched links'
    # similarities); the random-order figures come from knn.h5's row sum. With every other row NaN
    # (a corpus read whole would be refused) it writes the same file.
    starts = offsets[:-1]
    needed = set(order[starts].tolist()) | set(order[offsets[1:] - 1].tolist()) | set(range(1024))
    garbage = os.path.join(tmp, "garbage.h5")
    with h5py.File(corpus, "r") as f, h5py.File(garbage, "w") as g:
        for name in f:
            g[name] = f[name][:]
        rows = g["embeddings"][:]
        unneeded = np.setdiff1d(np.arange(3000), np.fromiter(needed, dtype=np.int64))
        rows[unneeded] = np.nan
        g["embeddings"][...] = rows
    assert len(unneeded) > 1000, len(unneeded)
    for ranks in (1, 3):
        out = os.path.join(tmp, f"garbage_order{ranks}.h5")
        e2e.expect_ok(e2e.run(ranks, "order", "--knn", knn, "--corpus", garbage, "--out", out, "--report", out + ".json",
                              "--quiet"), f"order of a corpus whose unneeded rows are NaN, {ranks} ranks")
        with h5py.File(out, "r") as f:
            for k, v in results[1].items():
                assert np.array_equal(v, f[k][:], equal_nan=True), f"/{k} differs with unneeded rows NaN"
            assert json.loads(f.attrs["quality"])["random_pairs"] == figures[1][3]
        report = json.load(open(out + ".json"))
        counters = report["counters"]
        # Bytes sent per stage: within the command's total, and the greedy's rounds send at 3 ranks.
        stage_sent = {s["stage"]: s["bytes_sent"]["total"] for s in report["stages"]}
        assert sum(stage_sent.values()) <= report["traffic"]["bytes_sent"]["total"], (stage_sent, report["traffic"])
        assert (stage_sent["greedy"] > 0) == (ranks > 1), stage_sent
        read = counters["corpus_bytes_read"]["total"]
        # Rows read from the files: exactly the sampled ones for the fingerprint; at most one pass
        # for the ends (wanted rows close together are read as one span, the rows between dropped).
        assert counters["embedding_rows_read_fingerprint"]["total"] == 1024, counters
        assert len(needed) - 1024 <= counters["embedding_rows_read_stitch"]["total"] <= 3000, counters
    e2e.run_expecting_user_error(2, ["knn", "--corpus", garbage, "--out", os.path.join(tmp, "k_garbage.h5")],
                                 ["garbage.h5", "non-finite"], "knn reads every row")
    print(f"ok: order reads {len(needed)} of 3000 rows ({read:.0f} bytes of the corpus; embeddings {rows.nbytes}): "
          f"the same order with the {len(unneeded)} others NaN")

    # Stitching by meeting points and projections (exact levels held back to 16 ends) against
    # stitching by exact kNN among the ends (what this small graph gets automatically, and what the
    # old stitching did at every level): within 0.5% of its mean adjacent similarity.
    meet = os.path.join(tmp, "meet.h5")
    e2e.expect_ok(e2e.run(2, "order", "--knn", knn, "--corpus", corpus, "--out", meet, "--stitch-exact-ends", 16,
                          "--report", meet + ".json", "--quiet"), "order with meeting-point stitching")
    with h5py.File(meet, "r") as f:
        assert np.array_equal(np.sort(f["order"][:]), np.arange(3000))
        meet_mean = f.attrs["mean_link_similarity"]
    methods = {l["method"] for l in json.load(open(meet + ".json"))["figures"]["stitch_level_details"]}
    assert "graph" in methods, methods
    print(f"ok: meeting-point stitching {meet_mean:.4f}, exact stitching {attrs['mean_link_similarity']:.4f}")
    assert meet_mean >= 0.995 * attrs["mean_link_similarity"], "meeting-point stitching lost more than 0.5%"

    iclm = os.path.join(tmp, "iclm.h5")
    e2e.expect_ok(e2e.run(2, "order", "--knn", knn, "--corpus", corpus, "--out", iclm, "--algorithm", "iclm", "--quiet"),
                  "order iclm")
    with h5py.File(iclm, "r") as f:
        assert np.array_equal(np.sort(f["order"][:]), np.arange(3000))
        iclm_mean = f.attrs["mean_link_similarity"]
    greedy_mean = attrs["mean_link_similarity"]
    print(f"ok: mean adjacent similarity greedy {greedy_mean:.4f}, iclm {iclm_mean:.4f}")
    assert greedy_mean > iclm_mean, "greedy should beat the ICLM traversal on a clustered corpus"
    # iclm gathers the graph on rank 0: refused before the gather when rank 0 lacks the memory
    # (WEAVE_AVAILABLE_MEMORY_BYTES stands in for a small node).
    e2e.run_expecting_user_error(2, ["order", "--knn", knn, "--corpus", corpus, "--out", os.path.join(tmp, "i2.h5"),
                                     "--algorithm", "iclm"], ["--algorithm iclm gathers the whole kNN graph on rank 0",
                                                              "available", "--algorithm greedy"],
                                 "iclm on a node too small", env={"WEAVE_AVAILABLE_MEMORY_BYTES": "100000"})

    small = os.path.join(tmp, "small.h5")
    e2e.expect_ok(e2e.run(1, "synth", "--docs", 100, "--dim", 8, "--out", small, "--quiet"), "small synth")
    out = os.path.join(tmp, "bad.h5")
    e2e.run_expecting_user_error(2, ["order", "--knn", knn, "--corpus", small, "--out", out],
                                 ["has 3000 documents", "has 100"], "corpus/knn mismatch")
    e2e.run_expecting_user_error(2, ["order", "--knn", corpus, "--corpus", corpus, "--out", out], ["not a knn file"],
                                 "not a knn file")
    e2e.run_expecting_user_error(2, ["order", "--knn", knn, "--corpus", corpus, "--out", out, "--stitch-k", 1],
                                 ["--stitch-k"], "bad stitch-k")
    e2e.run_expecting_user_error(2, ["order", "--knn", knn, "--corpus", corpus, "--out", out, "--stitch-exact-ends", -1],
                                 ["--stitch-exact-ends"], "bad stitch-exact-ends")
    # More than 2^31 documents a rank (the messages' 31-bit block indices): refused up front, from
    # the datasets' shapes alone (chunked and never written, so the file stays tiny).
    huge = os.path.join(tmp, "huge.h5")
    with h5py.File(huge, "w") as f:
        f.create_dataset("embeddings", shape=(2**32 + 5, 4), dtype="f4", chunks=(1 << 16, 4))
        f.create_dataset("lengths", shape=(2**32 + 5,), dtype="i4", chunks=(1 << 20,))
    e2e.run_expecting_user_error(2, ["order", "--knn", knn, "--corpus", huge, "--out", out],
                                 ["huge.h5", "4294967301 documents on 2 ranks", "more than 2147483647 a rank",
                                  "at least 3 ranks"], "more than 2^31 documents a rank")
    assert not os.path.exists(out) and not os.path.exists(out + ".tmp")
    print("ok: bad inputs rejected, no output")
