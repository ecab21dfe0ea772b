"""`weave pack --policy pad` (Llama 2 Long): the context index equals a plain sequential packer
(whole documents in order, a context closed when the next does not fit, a document longer than L
alone and truncated), at 1, 2, 3 and 5 ranks, on edge cases and on a pipeline corpus."""
import os

import h5py
import numpy as np

import weave_e2e as e2e


def oracle(order, lengths, L, sep):
    contexts, current, fill = [], [], 0
    for doc in order:
        e = int(lengths[doc]) + sep
        if e > L:
            if current:
                contexts.append(current)
            contexts.append([(doc, L)])
            current, fill = [], 0
        elif fill + e <= L:
            current.append((doc, e))
            fill += e
        else:
            contexts.append(current)
            current, fill = [(doc, e)], e
    if current:
        contexts.append(current)
    return contexts


def check(path, order, lengths, L, sep, what):
    want = oracle(order, lengths, L, sep)
    with h5py.File(path, "r") as f:
        off, nt = f["contexts/segment_offsets"][:], f["contexts/num_tokens"][:]
        doc, ln, doff = f["segments/doc_id"][:], f["segments/length"][:], f["segments/doc_offset"][:]
        co = f["segments/context_offset"][:]
        attrs = dict(f.attrs)
    for a, b in zip(off[:-1], off[1:]):  # each segment's first token within its context
        if not np.array_equal(co[a:b], np.concatenate([[0], np.cumsum(ln[a:b])[:-1]])):
            e2e.fail(f"{what}: /segments/context_offset {co[a:b]} is not the running sum of the lengths {ln[a:b]}")
    got = [list(zip(doc[a:b].tolist(), ln[a:b].tolist())) for a, b in zip(off[:-1], off[1:])]
    if got != want:
        e2e.fail(f"{what}: contexts differ from the sequential packer (first: {got[:3]} vs {want[:3]})")
    assert (doff == 0).all() and list(nt) == [sum(x for _, x in c) for c in want]
    truncated = sum(max(0, int(lengths[d]) + sep - L) for d in order)
    assert attrs["total_truncated_tokens"] == truncated and attrs["policy"] == "pad"
    assert attrs["total_padding_tokens"] == len(want) * L - sum(nt)


with e2e.scratch() as tmp:
    edge, edge_order = os.path.join(tmp, "edge.h5"), os.path.join(tmp, "edge_order.h5")
    lens = np.array([10, 3, 25, 10, 1, 7, 4, 6, 2, 30, 5], dtype=np.int64)
    perm = np.array([2, 0, 5, 1, 4, 3, 10, 9, 8, 6, 7], dtype=np.int64)
    with h5py.File(edge, "w") as f:
        f["embeddings"] = np.random.default_rng(0).standard_normal((len(lens), 4)).astype(np.float32)
        f["lengths"] = lens
    with h5py.File(edge_order, "w") as f:
        f["order"] = perm
    for L, sep in ((10, 0), (11, 1), (1, 0), (7, 2), (1000, 0), (26, 0)):
        for ranks in (1, 2, 3, 5):
            out = os.path.join(tmp, f"edge_{L}_{sep}_{ranks}.h5")
            e2e.expect_ok(e2e.run(ranks, "pack", "--order", edge_order, "--corpus", edge, "--policy", "pad",
                                  "--context-length", L, "--separator-tokens", sep, "--out", out, "--quiet"),
                          f"pad L={L} at {ranks} ranks")
            check(out, perm, lens, L, sep, f"edge L={L} sep={sep} at {ranks} ranks")
    print("ok: edge cases (longer than L, exactly L, L=1, shorter than one context) at 1, 2, 3, 5 ranks")

    out = os.path.join(tmp, "run")
    e2e.expect_ok(e2e.run(2, "run", "--set", f'out_dir="{out}"', "--set", "synth.docs=2500", "--set", "synth.dim=16",
                          "--set", 'pack.policy="pad"', "--set", "pack.context_length=[2048, 4096]", "--quiet"),
                  "weave run with pad")
    with h5py.File(os.path.join(out, "corpus.h5"), "r") as f:
        lengths = f["lengths"][:]
    with h5py.File(os.path.join(out, "order.h5"), "r") as f:
        order = f["order"][:]
    for L in (2048, 4096):
        check(os.path.join(out, f"contexts.{L}.h5"), order, lengths, L, 1, f"pipeline L={L}")
    for ranks in (3, 5):
        path = os.path.join(tmp, f"p{ranks}.h5")
        e2e.expect_ok(e2e.run(ranks, "pack", "--order", os.path.join(out, "order.h5"), "--corpus",
                              os.path.join(out, "corpus.h5"), "--policy", "pad", "--context-length", 2048,
                              "--separator-tokens", 1, "--out", path, "--quiet"), f"pad at {ranks} ranks")
        check(path, order, lengths, 2048, 1, f"pipeline at {ranks} ranks")
    print("ok: a pipeline corpus packed like the sequential packer, via weave run and at 3 and 5 ranks")
