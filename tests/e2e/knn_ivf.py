"""`weave knn --method ivf` end to end: the same knn.h5 at 1, 2, 3 and 5 ranks (h5py), also when the
clusters are cut into pieces over several rounds; one cluster gives the exact file; the recall
written into knn.h5 is checked with numpy against the exact lists; identical rows (folded before
the search); `--method auto`; `weave run` with [knn] method = "ivf"; rejected options, exit 2."""
import json
import os

import h5py
import numpy as np

import weave_e2e as e2e


def lists(path):
    with h5py.File(path, "r") as f:
        return f["neighbors"][:], f["similarities"][:], dict(f.attrs)


def same(a, b):
    return np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


def recall(approx, exact):
    hits = sum(len(set(a[a >= 0]) & set(e[e >= 0])) for a, e in zip(approx, exact))
    return hits / np.count_nonzero(exact >= 0)


with e2e.scratch() as tmp:
    corpus = os.path.join(tmp, "c.h5")
    e2e.expect_ok(e2e.run(2, "synth", "--docs", 3000, "--dim", 24, "--topics", 30, "--duplicate-share", 0.1,
                          "--out", corpus, "--quiet"), "synth")
    exact = os.path.join(tmp, "exact.h5")
    e2e.expect_ok(e2e.run(2, "knn", "--corpus", corpus, "--method", "exact", "--out", exact, "--quiet"), "exact")
    want = lists(exact)

    got = {}
    for ranks in (1, 2, 3, 5):
        out = os.path.join(tmp, f"ivf{ranks}.h5")
        report = os.path.join(tmp, f"ivf{ranks}.json")
        r = e2e.run(ranks, "knn", "--corpus", corpus, "--method", "ivf", "--round-rows", 200, "--out", out,
                    "--report", report)
        e2e.expect_ok(r, f"ivf at {ranks} ranks")
        assert "recall@10" in r.stdout, r.stdout
        got[ranks] = lists(out)
        rep = json.load(open(report))
        fig = rep["figures"]
        assert fig["ivf_rounds"] > 1 and fig["clusters_split"] > 0, fig
        assert fig["recall_at_k"] == got[ranks][2]["recall_at_k"]
        for counter in ("train_seconds", "assign_seconds", "shuffle_seconds", "search_seconds", "merge_seconds",
                        "bytes_shuffled", "pairs_scored", "largest_round_rows_received"):
            assert counter in rep["counters"], counter
    for ranks in (2, 3, 5):
        if not same(got[1], got[ranks]):
            e2e.fail(f"ivf knn.h5 differs between 1 and {ranks} ranks")
    attrs = got[1][2]
    assert attrs["method"] == "ivf" and attrs["nlist"] == 64, attrs  # sqrt(3000) ~ 55 -> 64
    assert 1 <= attrs["nprobe"] <= 64 and attrs["recall_queries"] == 1000, attrs
    measured = recall(got[1][0], want[0])
    print(f"ok: identical at 1, 2, 3, 5 ranks; nprobe {attrs['nprobe']}, recall@10 {attrs['recall_at_k']:.4f} on "
          f"the sample, {measured:.4f} on every document")
    assert attrs["recall_at_k"] >= 0.95 and measured >= 0.93, (attrs["recall_at_k"], measured)
    # Every similarity listed is the exact one of that pair: the lists are a subset of the exact
    # search's candidates, never worse than the exact k-th.
    assert np.all(got[1][1][:, 0] <= want[1][:, 0] + 0)

    # weave inspect shows what the search did.
    r = e2e.run(2, "inspect", os.path.join(tmp, "ivf1.h5"))
    e2e.expect_ok(r, "inspect")
    for line in ("method                         ivf", f"nprobe                         {attrs['nprobe']}",
                 f"recall_at_k                    {attrs['recall_at_k']:.4f}"):
        assert line in r.stdout, (line, r.stdout)

    # One cluster: the exact lists, bit for bit.
    one = os.path.join(tmp, "one.h5")
    e2e.expect_ok(e2e.run(3, "knn", "--corpus", corpus, "--method", "ivf", "--nlist", 1, "--nprobe", 1, "--out", one,
                          "--quiet"), "one cluster")
    assert same(lists(one), want), "one cluster differs from the exact search"
    assert lists(one)[2]["recall_at_k"] == 1.0
    print("ok: one cluster = exact")

    # auto: a small corpus is searched exactly.
    auto = os.path.join(tmp, "auto.h5")
    e2e.expect_ok(e2e.run(2, "knn", "--corpus", corpus, "--out", auto, "--quiet"), "auto")
    assert lists(auto)[2]["method"] == "exact" and same(lists(auto), want)

    # Identical rows: three rows stored 40 times each among 400 random ones (groups > k + 1 are
    # folded before the search); probing every cluster gives the exact lists.
    rng = np.random.default_rng(3)
    rows = rng.normal(size=(520, 16)).astype(np.float32)
    rows[400:] = rows[np.arange(120) % 3]
    dups = os.path.join(tmp, "dups.h5")
    with h5py.File(dups, "w") as f:
        f["embeddings"] = rows
        f["lengths"] = np.full(520, 100, dtype=np.int64)
    dups_exact = os.path.join(tmp, "dups_exact.h5")
    e2e.expect_ok(e2e.run(2, "knn", "--corpus", dups, "--method", "exact", "--out", dups_exact, "--quiet"), "exact")
    for ranks in (1, 3):
        out = os.path.join(tmp, f"dups{ranks}.h5")
        e2e.expect_ok(e2e.run(ranks, "knn", "--corpus", dups, "--method", "ivf", "--nlist", 8, "--nprobe", 8,
                              "--round-rows", 100, "--out", out, "--quiet"), f"dups at {ranks}")
        assert same(lists(out), lists(dups_exact)), f"identical rows: probe = nlist differs from exact at {ranks}"
    print("ok: identical rows")

    # weave run with [knn] method = "ivf".
    run_dir = os.path.join(tmp, "run")
    config = os.path.join(tmp, "run.toml")
    with open(config, "w") as f:
        f.write(f'out_dir = "{run_dir}"\n[corpus]\npath = "{corpus}"\n[knn]\nmethod = "ivf"\nnlist = 32\n'
                f'recall_sample = 500\n[pack]\ncontext_length = 2048\n')
    e2e.expect_ok(e2e.run(2, "run", config, "--quiet"), "weave run with ivf")
    with h5py.File(os.path.join(run_dir, "knn.h5"), "r") as f:
        assert f.attrs["method"] == "ivf" and f.attrs["nlist"] == 32 and f.attrs["recall_queries"] == 500
    assert os.path.exists(os.path.join(run_dir, "order.h5"))
    print("ok: weave run with [knn] method = ivf")

    # Bad options: exit 2 on every rank with one clear line.
    base = ["knn", "--corpus", corpus, "--out", os.path.join(tmp, "bad.h5"), "--method", "ivf"]
    e2e.run_expecting_user_error(2, base + ["--nlist", 4, "--nprobe", 9], ["--nprobe (9)", "--nlist (4)"], "probe > nlist")
    e2e.run_expecting_user_error(2, base + ["--nlist", 5000], ["--nlist 5000", "3000"], "more clusters than documents")
    e2e.run_expecting_user_error(2, base + ["--nlist", 64, "--train-sample", 10], ["--train-sample", "--nlist"],
                                 "sample smaller than the clusters")
    e2e.run_expecting_user_error(2, base + ["--recall-sample", 0], ["--recall-sample 0", "--nprobe"],
                                 "no sample, automatic probe")
    e2e.run_expecting_user_error(2, base + ["--target-recall", 1.5], ["--target-recall"], "target recall > 1")
    tiny = os.path.join(tmp, "tiny.h5")
    with h5py.File(tiny, "w") as f:
        f["embeddings"] = rng.normal(size=(8, 4)).astype(np.float32)
        f["lengths"] = np.full(8, 10, dtype=np.int64)
    e2e.run_expecting_user_error(2, ["knn", "--corpus", tiny, "--out", os.path.join(tmp, "t.h5"), "--method", "ivf"],
                                 ["k=10", "8 documents", "--method exact"], "k >= documents")
    assert not os.path.exists(os.path.join(tmp, "bad.h5"))
    print("ok: bad options")
