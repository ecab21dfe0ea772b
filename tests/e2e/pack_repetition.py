"""`weave pack --upsample/--source-weights`: every document appears as many times as the documented
rule gives (recomputed here with a Python copy of the counter-based generator), copies never sit
next to each other, tokens are conserved with copies, identical at 1, 2, 3 ranks; malformed
weights are rejected (exit 2, no output)."""
import math
import os

import h5py
import numpy as np

import weave_e2e as e2e

M = (1 << 64) - 1


def mix64(x):
    x ^= x >> 30
    x = (x * 0xBF58476D1CE4E5B9) & M
    x ^= x >> 27
    x = (x * 0x94D049BB133111EB) & M
    return x ^ (x >> 31)


def uniform(seed, stream, index):
    state = mix64(mix64(seed ^ 0x243F6A8885A308D3) ^ mix64((stream + 0x13198A2E03707344) & M) ^ index)
    state = (state + 0x9E3779B97F4A7C15) & M
    return (mix64(state) >> 11) * 2.0 ** -53


def copies(doc, length, source, min_tokens, factor, weights, seed=1):
    x = factor if length >= min_tokens else 1.0
    x *= weights.get(int(source), 1.0)
    whole = math.floor(x)
    return whole + (1 if uniform(seed, 0x636F70696573, doc) < x - whole else 0)


with e2e.scratch() as tmp:
    out = os.path.join(tmp, "run")
    e2e.expect_ok(e2e.run(2, "run", "--set", f'out_dir="{out}"', "--set", "synth.docs=3000", "--set", "synth.dim=16",
                          "--quiet"), "weave run")
    corpus, order_path = os.path.join(out, "corpus.h5"), os.path.join(out, "order.h5")
    with h5py.File(corpus, "r") as f:
        lengths, sources = f["lengths"][:].astype(np.int64), f["sources"][:]
    weights = {0: 0.5, 2: 1.75}
    expected = np.array([copies(i, lengths[i], sources[i], 1500, 2.5, weights) for i in range(3000)])
    args = ["--order", order_path, "--corpus", corpus, "--context-length", 2048, "--separator-tokens", 1,
            "--tail", "pad", "--upsample", "min_tokens=1500,factor=2.5", "--source-weights", "0=0.5,2=1.75"]
    files = {}
    for ranks in (1, 2, 3):
        path = os.path.join(tmp, f"ctx{ranks}.h5")
        e2e.expect_ok(e2e.run(ranks, "pack", *args, "--out", path, "--quiet"), f"pack at {ranks} ranks")
        with h5py.File(path, "r") as f:
            files[ranks] = {k: f[k][:] for k in ("segments/doc_id", "segments/copy", "segments/length",
                                                 "segments/is_doc_start", "contexts/segment_offsets")}
            attrs = dict(f.attrs)
    for ranks in (2, 3):
        for k, v in files[1].items():
            if not np.array_equal(v, files[ranks][k]):
                e2e.fail(f"{k} differs between 1 and {ranks} ranks")
    d = files[1]
    starts = d["segments/doc_id"][d["segments/is_doc_start"] == 1]
    got = np.bincount(starts, minlength=3000)
    assert np.array_equal(got, expected), f"copies differ from the rule at {np.flatnonzero(got != expected)[:5]}"
    assert expected.max() >= 3 and (expected == 0).any(), "the test should exercise several copies and drops"
    assert not (starts[1:] == starts[:-1]).any(), "a copy sits next to its own copy"
    for doc in range(0, 3000, 97):  # copy indexes 0..m-1, each once
        c = d["segments/copy"][(d["segments/doc_id"] == doc) & (d["segments/is_doc_start"] == 1)]
        assert sorted(c) == list(range(expected[doc])), (doc, c)
    stream_tokens = int(((lengths + 1) * expected).sum())
    assert attrs["total_stream_documents"] == expected.sum() and attrs["total_stream_tokens"] == stream_tokens
    assert int(d["segments/length"].sum()) == stream_tokens, "tokens not conserved with copies (tail pad)"
    print(f"ok: {expected.sum()} stream documents from 3000 ({np.bincount(expected).tolist()} by copies), "
          "identical at 1, 2, 3 ranks, no adjacent copies")

    bad = os.path.join(tmp, "bad.h5")
    base = ["pack", "--order", order_path, "--corpus", corpus, "--out", bad]
    e2e.run_expecting_user_error(2, base + ["--source-weights", "0=1.0,x=2"], ["source x is not an integer"], "bad source")
    e2e.run_expecting_user_error(2, base + ["--source-weights", "0=-1"], ["not a non-negative number"], "negative weight")
    e2e.run_expecting_user_error(2, base + ["--source-weights", "1"], ["expected SOURCE=WEIGHT"], "no weight")
    e2e.run_expecting_user_error(2, base + ["--upsample", "factor=2"], ["give both min_tokens=T and factor=F"], "no min")
    e2e.run_expecting_user_error(2, base + ["--upsample", "min_tokens=10,factr=2"], ["expected min_tokens=T,factor=F"],
                                 "typo")
    assert not os.path.exists(bad) and not os.path.exists(bad + ".tmp")
    print("ok: malformed weights rejected, no output")
