"""Provenance (issue: reliability): knn.h5, order.h5 and contexts.h5 record the corpus they were
made from (path, documents, dim and a content fingerprint); a later stage given a corpus of the same
size but other content stops with exit 2 naming both files (`--force` warns and goes on); the
fingerprint is the same at 1, 2 and 3 ranks and for the same rows split into manifest shards.
`inspect` never aborts: broken kNN lists (an id outside the corpus, the document itself, a
similarity of 7, -1 in the middle of a list) and contexts with a wrong corpus are clear errors, and
`order` refuses the same lists with the same message."""
import json
import os
import shutil

import h5py
import numpy as np

import weave_e2e as e2e


def recorded(path):
    with h5py.File(path, "r") as f:
        return json.loads(f.attrs["corpus"])


with e2e.scratch() as tmp:
    p = lambda name: os.path.join(tmp, name)
    e2e.expect_ok(e2e.run(2, "synth", "--docs", 3000, "--dim", 32, "--out", p("a.h5"), "--quiet"), "synth a")
    e2e.expect_ok(e2e.run(2, "synth", "--docs", 3000, "--dim", 32, "--seed", 2, "--out", p("b.h5"), "--quiet"), "synth b")
    # The rows of a.h5 again, in three shards of a manifest: the same corpus, the same fingerprint.
    with h5py.File(p("a.h5"), "r") as f:
        data = {k: f[k][:] for k in f.keys() if isinstance(f[k], h5py.Dataset)}
    for s, (lo, hi) in enumerate(((0, 1000), (1000, 1001), (1001, 3000))):
        with h5py.File(p(f"shard{s}.h5"), "w") as f:
            for k, v in data.items():
                f[k] = v[lo:hi]
    with open(p("m.txt"), "w") as f:
        f.write("shard0.h5\nshard1.h5\nshard2.h5\n")

    for ranks in (1, 2, 3):
        e2e.expect_ok(e2e.run(ranks, "knn", "--corpus", p("a.h5"), "--out", p(f"ka{ranks}.h5"), "--quiet"), "knn a")
    e2e.expect_ok(e2e.run(2, "knn", "--corpus", p("m.txt"), "--out", p("km.h5"), "--quiet"), "knn manifest")
    prints = {r: recorded(p(f"ka{r}.h5"))["fingerprint"] for r in (1, 2, 3)}
    prints["manifest"] = recorded(p("km.h5"))["fingerprint"]
    if len(set(prints.values())) != 1 or len(prints[1]) != 16:
        e2e.fail(f"the corpus fingerprint depends on the rank count or the sharding: {prints}")
    rec = recorded(p("ka2.h5"))
    assert rec["documents"] == 3000 and rec["dim"] == 32 and rec["path"].endswith("a.h5"), rec
    print(f"ok: knn.h5 records the corpus, fingerprint {prints[1]} at 1, 2, 3 ranks and for the manifest")

    # order: a kNN graph of a.h5 with b.h5 (same size) is refused, naming both; --force goes on.
    knn = p("ka2.h5")
    e2e.run_expecting_user_error(2, ["order", "--knn", knn, "--corpus", p("b.h5"), "--out", p("o.h5")],
                                 ["ka2.h5 was made from the corpus", "a.h5", "b.h5", "--force"], "order: another corpus")
    assert not os.path.exists(p("o.h5"))
    r = e2e.run(2, "order", "--knn", knn, "--corpus", p("b.h5"), "--out", p("o_forced.h5"), "--quiet", "--force")
    e2e.expect_ok(r, "order --force")
    assert "warning" in r.stderr and "(--force)" in r.stderr and "warning" not in r.stdout, r.stderr
    e2e.expect_ok(e2e.run(2, "order", "--knn", knn, "--corpus", p("m.txt"), "--out", p("o.h5"), "--quiet"),
                  "order with the same rows in shards")
    with h5py.File(p("o.h5"), "r") as f:
        assert json.loads(f.attrs["corpus"])["fingerprint"] == prints[1]
        assert json.loads(f.attrs["knn"])["path"] == knn
    print("ok: order refuses a graph of another corpus, --force warns, order.h5 records corpus and knn")

    # pack: an order of a.h5 with b.h5 is refused; contexts.h5 records the corpus.
    e2e.run_expecting_user_error(2, ["pack", "--order", p("o.h5"), "--corpus", p("b.h5"), "--context-length", 512,
                                     "--out", p("c.h5")], ["o.h5 was made from the corpus", "b.h5"], "pack: another corpus")
    e2e.expect_ok(e2e.run(2, "pack", "--order", p("o.h5"), "--corpus", p("a.h5"), "--context-length", 512,
                          "--out", p("c.h5"), "--quiet"), "pack")
    # pack reads no embeddings, so it records the documents' fingerprint alone.
    assert recorded(p("c.h5"))["documents_fingerprint"] == recorded(knn)["documents_fingerprint"]
    assert "fingerprint" not in recorded(p("c.h5"))
    # The same documents embedded anew (a.h5's lengths and ids, b.h5's embeddings): order refuses
    # the old graph (it was made from the embeddings), pack accepts the order (it uses the documents).
    with h5py.File(p("reembedded.h5"), "w") as f:
        for k, v in data.items():
            f[k] = v
        with h5py.File(p("b.h5"), "r") as b:
            f["embeddings"][...] = b["embeddings"][:]
    e2e.run_expecting_user_error(2, ["order", "--knn", knn, "--corpus", p("reembedded.h5"), "--out", p("o_re.h5")],
                                 ["ka2.h5 was made from the corpus", "reembedded.h5", "fingerprint"],
                                 "order: the same documents embedded anew")
    e2e.expect_ok(e2e.run(2, "pack", "--order", p("o.h5"), "--corpus", p("reembedded.h5"), "--context-length", 512,
                          "--out", p("c_re.h5"), "--quiet"), "pack: the same documents embedded anew")
    assert recorded(p("c_re.h5"))["documents_fingerprint"] == recorded(p("c.h5"))["documents_fingerprint"]
    print("ok: pack refuses an order of another corpus (documents), order a graph of other embeddings; "
          "contexts.h5 records the corpus")

    # pack reads no embeddings: with every embedding NaN (knn refuses such a corpus) it packs the
    # same contexts, and its report counts only the bytes of lengths (and ids, sources, topics).
    with h5py.File(p("garbage.h5"), "w") as f:
        for k, v in data.items():
            f[k] = v
        f["embeddings"][...] = np.nan
    e2e.run_expecting_user_error(2, ["knn", "--corpus", p("garbage.h5"), "--out", p("k_garbage.h5")],
                                 ["garbage.h5", "non-finite"], "knn reads and checks the embeddings")
    e2e.expect_ok(e2e.run(2, "pack", "--order", p("o.h5"), "--corpus", p("garbage.h5"), "--context-length", 512,
                          "--out", p("c_garbage.h5"), "--quiet", "--report", p("pack.json")), "pack without embeddings")
    with h5py.File(p("c.h5"), "r") as a, h5py.File(p("c_garbage.h5"), "r") as b:
        for k in ("contexts/segment_offsets", "segments/doc_id", "segments/length"):
            assert np.array_equal(a[k][:], b[k][:]), k
    with open(p("pack.json")) as f:
        read = json.load(f)["counters"]["corpus_bytes_read"]["total"]
    embedding_bytes = data["embeddings"].nbytes
    assert read < 0.5 * embedding_bytes, f"pack read {read} bytes, the embeddings alone are {embedding_bytes}"
    print(f"ok: pack packs a corpus of NaN embeddings like the real one, reading {read:.0f} bytes "
          f"(embeddings: {embedding_bytes})")

    # inspect contexts with a wrong corpus, smaller (it aborted) and larger (meaningless purity).
    e2e.expect_ok(e2e.run(2, "synth", "--docs", 1000, "--dim", 32, "--out", p("small.h5"), "--quiet"), "synth small")
    e2e.expect_ok(e2e.run(2, "synth", "--docs", 9000, "--dim", 32, "--out", p("big.h5"), "--quiet"), "synth big")
    for other in ("small.h5", "big.h5"):
        e2e.run_expecting_user_error(2, ["inspect", p("c.h5"), "--corpus", p(other)],
                                     ["c.h5 was made from the corpus", other], f"inspect contexts with {other}")
    # Without the record (a file from before provenance), ids beyond the corpus are still named.
    shutil.copy(p("c.h5"), p("c_old.h5"))
    with h5py.File(p("c_old.h5"), "r+") as f:
        del f.attrs["corpus"]
    e2e.run_expecting_user_error(2, ["inspect", p("c_old.h5"), "--corpus", p("small.h5")],
                                 ["c_old.h5", "/segments/doc_id row", "not a document of the corpus"],
                                 "inspect old contexts with a smaller corpus")
    r = e2e.run(2, "inspect", p("c.h5"), "--corpus", p("a.h5"), "--json")
    e2e.expect_ok(r, "inspect contexts with its corpus")
    assert 0 < json.loads(r.stdout)["mean_topic_purity"] <= 1

    # Broken kNN lists: inspect (it aborted on the first) and order give the same clear error.
    cases = {"outside": ((5, 2), "neighbors", 999999, "row 5, column 2: /neighbors has 999999, not a document"),
             "self": ((7, 0), "neighbors", 7, "row 7, column 0: /neighbors lists the document itself"),
             "similarity7": ((9, 1), "similarities", 7.0, "row 9, column 1: /similarities has 7"),
             "hole": ((11, 3), "neighbors", -1, "row 11, column 4: /neighbors has")}
    for name, ((row, col), dataset, value, fragment) in cases.items():
        bad = p(f"knn_{name}.h5")
        shutil.copy(knn, bad)
        with h5py.File(bad, "r+") as f:
            f[dataset][row, col] = value
        e2e.run_expecting_user_error(3, ["inspect", bad], [f"knn_{name}.h5", fragment], f"inspect knn {name}")
        e2e.run_expecting_user_error(2, ["order", "--knn", bad, "--corpus", p("a.h5"), "--out", p("o_bad.h5")],
                                     [f"knn_{name}.h5", fragment], f"order knn {name}")
    print("ok: inspect and order name the file, dataset, row and column of broken kNN lists")

    # inspect on damaged order and contexts files: one clear error (exit 2 on every rank), no abort.
    damaged = {
        "order_no_offsets.h5": (p("o.h5"), lambda f: f.__delitem__("path_offsets"), ["missing dataset /path_offsets"]),
        "order_repeat.h5": (p("o.h5"), lambda f: f["order"].__setitem__(5, f["order"][6]), ["/order row 6", "appears again"]),
        "contexts_offsets.h5": (p("c.h5"), lambda f: f["contexts/segment_offsets"].__setitem__(3, 10**9),
                                ["/contexts/segment_offsets row 3", "offsets must rise"]),
        "contexts_no_lengths.h5": (p("c.h5"), lambda f: f.__delitem__("segments/length"), ["/segments/length"]),
    }
    for name, (source, damage, fragments) in damaged.items():
        shutil.copy(source, p(name))
        with h5py.File(p(name), "r+") as f:
            damage(f)
        e2e.run_expecting_user_error(2, ["inspect", p(name)], [name] + fragments, f"inspect {name}")
    print("ok: inspect names what is wrong in damaged order and contexts files")
