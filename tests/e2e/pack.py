"""`weave pack` end to end: synth -> knn -> order -> pack at 1, 2, 3 and 5 ranks give identical context
indexes; token conservation; every document present with its stream covered in order; the h5py
reader of docs/examples/read_contexts.py reads it; policy edge cases; bad inputs (exit 2, no output)."""
import os
import sys

import h5py
import numpy as np

import weave_e2e as e2e

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs", "examples"))
import read_contexts  # noqa: E402


def load(path):
    with h5py.File(path, "r") as f:
        data = {k: f[k][:] for k in ("contexts/segment_offsets", "contexts/num_tokens", "segments/doc_id",
                                     "segments/doc_offset", "segments/length", "segments/is_doc_start",
                                     "segments/user_doc_id", "segments/context_offset")}
        return data, dict(f.attrs)


def check_index(d, attrs, order, lengths, L, sep, tail):
    """Everything the index must satisfy, recomputed with numpy."""
    stream = lengths[order] + sep
    total = int(stream.sum())
    off, nt, doc, doff, ln = (d["contexts/segment_offsets"], d["contexts/num_tokens"], d["segments/doc_id"],
                              d["segments/doc_offset"], d["segments/length"])
    full, rest = divmod(total, L)
    contexts = full + (1 if tail == "pad" and rest else 0)
    assert len(nt) == contexts and off[0] == 0 and off[-1] == len(doc), (len(nt), contexts)
    assert all(ln[off[c]:off[c + 1]].sum() == nt[c] for c in range(contexts))
    # context_offset: each segment's first token in its context (cu_seqlens without num_tokens)
    co = d["segments/context_offset"]
    for c in range(contexts):
        expect = np.concatenate([[0], np.cumsum(ln[off[c]:off[c + 1]])[:-1]])
        assert np.array_equal(co[off[c]:off[c + 1]], expect), f"context {c}: context_offset {co[off[c]:off[c + 1]]}"
    assert (nt[:full] == L).all()
    padding = contexts * L - int(nt.sum())
    dropped = rest if tail == "drop" else 0
    assert int(ln.sum()) + dropped == total, "tokens not conserved"
    assert attrs["total_padding_tokens"] == padding and attrs["total_dropped_tail_tokens"] == dropped
    assert attrs["total_document_tokens"] == int(lengths.sum()) and attrs["context_length"] == L
    # The segments walk the order: each document's stream covered front to back, in order.
    covered = np.zeros(len(lengths), dtype=np.int64)
    expected_next = 0
    for s in range(len(doc)):
        g = doc[s]
        if doff[s] == 0:
            assert g == order[expected_next], (s, g, order[expected_next])
            expected_next += 1
        assert doff[s] == covered[g], "a document's pieces are not contiguous"
        covered[g] += ln[s]
        assert d["segments/is_doc_start"][s] == (doff[s] == 0)
    # Each document is complete, except where the dropped tail cuts the stream at contexts * L.
    end = np.cumsum(stream)
    begin = end - stream
    cut = contexts * L
    expected = np.clip(np.minimum(end, cut) - begin, 0, None)
    assert np.array_equal(covered[order], expected), "documents not covered as the cut at contexts*L implies"
    return contexts


with e2e.scratch() as tmp:
    corpus, knn, order_path = (os.path.join(tmp, n) for n in ("c.h5", "knn.h5", "order.h5"))
    e2e.expect_ok(e2e.run(2, "synth", "--docs", 2000, "--dim", 16, "--topics", 20, "--out", corpus, "--quiet"), "synth")
    e2e.expect_ok(e2e.run(2, "knn", "--corpus", corpus, "--k", 6, "--out", knn, "--quiet"), "knn")
    e2e.expect_ok(e2e.run(2, "order", "--knn", knn, "--corpus", corpus, "--out", order_path, "--quiet"), "order")
    with h5py.File(corpus, "r") as f:
        lengths, user_ids = f["lengths"][:].astype(np.int64), f["doc_ids"][:]
    with h5py.File(order_path, "r") as f:
        order = f["order"][:]

    results = {}
    for ranks in (1, 2, 3, 5):
        out = os.path.join(tmp, f"ctx{ranks}.h5")
        r = e2e.run(ranks, "pack", "--order", order_path, "--corpus", corpus, "--context-length", "1024,8192",
                    "--separator-tokens", 1, "--out", out)
        e2e.expect_ok(r, f"pack at {ranks} ranks")
        assert r.stdout.count("weave pack: wrote") == 2, r.stdout
        results[ranks] = [load(os.path.join(tmp, f"ctx{ranks}.{L}.h5")) for L in (1024, 8192)]
    for ranks in (2, 3, 5):
        for (a, _), (b, _) in zip(results[1], results[ranks]):
            for k in a:
                if not np.array_equal(a[k], b[k]):
                    e2e.fail(f"{k} differs between 1 and {ranks} ranks")
    print("ok: identical context indexes at 1, 2, 3, 5 ranks (two lengths in one pass)")

    for (d, attrs), L in zip(results[1], (1024, 8192)):
        check_index(d, attrs, order, lengths, L, 1, "drop")
        assert np.array_equal(d["segments/user_doc_id"], user_ids[d["segments/doc_id"]])
    # One length alone gives the same file as in the curriculum pass.
    single = os.path.join(tmp, "single.h5")
    e2e.expect_ok(e2e.run(2, "pack", "--order", order_path, "--corpus", corpus, "--context-length", 8192,
                          "--separator-tokens", 1, "--out", single, "--quiet"), "pack one length")
    one, _ = load(single)
    assert all(np.array_equal(one[k], results[1][1][0][k]) for k in one), "curriculum pass differs from a single run"
    print("ok: conservation, order, user ids; a curriculum pass equals separate runs")

    # The h5py reader example reads it back.
    ctxs = list(read_contexts.contexts(os.path.join(tmp, "ctx1.1024.h5")))
    d, attrs = results[1][0]
    assert len(ctxs) == len(d["contexts/num_tokens"])
    for c, ctx in enumerate(ctxs[:50]):
        assert ctx["cu_seqlens"][-1] == d["contexts/num_tokens"][c] and ctx["padding"] == 1024 - ctx["cu_seqlens"][-1]
    print("ok: docs/examples/read_contexts.py reads the index")

    # Edge cases: a document longer than L, exactly L, L = 1, a corpus shorter than one context.
    edge = os.path.join(tmp, "edge.h5")
    edge_order = os.path.join(tmp, "edge_order.h5")
    lens = np.array([10, 3, 25, 10, 1, 7], dtype=np.int64)
    with h5py.File(edge, "w") as f:
        f["embeddings"] = np.random.default_rng(0).standard_normal((6, 4)).astype(np.float32)
        f["lengths"] = lens
    perm = np.array([2, 0, 5, 1, 4, 3], dtype=np.int64)
    with h5py.File(edge_order, "w") as f:
        f["order"] = perm
    for L, tail, sep in ((10, "drop", 0), (10, "pad", 0), (1, "drop", 0), (7, "pad", 2), (1000, "drop", 0),
                         (1000, "pad", 1)):
        out = os.path.join(tmp, f"edge_{L}_{tail}_{sep}.h5")
        for ranks in (1, 3, 5):
            e2e.expect_ok(e2e.run(ranks, "pack", "--order", edge_order, "--corpus", edge, "--context-length", L,
                                  "--tail", tail, "--separator-tokens", sep, "--out", out, "--quiet"), f"edge L={L}")
            with h5py.File(out, "r") as f:
                d = {k: f[k][:] for k in ("contexts/segment_offsets", "contexts/num_tokens", "segments/doc_id",
                                          "segments/doc_offset", "segments/length", "segments/is_doc_start",
                                          "segments/context_offset")}
                attrs = dict(f.attrs)
            check_index(d, attrs, perm, lens, L, sep, tail)
    print("ok: documents longer than L, exactly L, L=1, a corpus shorter than one context")

    bad = os.path.join(tmp, "bad.h5")
    dup_order = os.path.join(tmp, "dup.h5")
    with h5py.File(dup_order, "w") as f:
        f["order"] = np.array([2, 0, 5, 1, 0, 3], dtype=np.int64)
    e2e.run_expecting_user_error(2, ["pack", "--order", dup_order, "--corpus", edge, "--context-length", 8, "--out", bad],
                                 ["dup.h5: /order row 4: document 0 appears again (first at row 1)"], "not a permutation")
    e2e.run_expecting_user_error(2, ["pack", "--order", order_path, "--corpus", edge, "--context-length", 8, "--out", bad],
                                 ["has 2000 documents but the corpus has 6"], "corpus/order mismatch")
    e2e.run_expecting_user_error(2, ["pack", "--order", edge_order, "--corpus", edge, "--context-length", 0, "--out", bad],
                                 ["--context-length must be in [1"], "L = 0")
    e2e.run_expecting_user_error(2, ["pack", "--order", edge, "--corpus", edge, "--out", bad], ["not an order file"],
                                 "not an order file")
    e2e.run_expecting_user_error(2, ["pack", "--order", edge_order, "--corpus", edge, "--context-length", 8,
                                     "--source-weights", "0=2", "--out", bad], ["has no /sources"], "weights, no sources")
    assert not os.path.exists(bad) and not os.path.exists(bad + ".tmp")
    print("ok: bad inputs rejected, no output")
