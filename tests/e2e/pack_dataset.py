"""Tokens in, a training-ready dataset out (issue 16): `weave pack --tokens STORE --dataset PREFIX`
writes a Megatron-LM indexed dataset with one sequence of L tokens per context. An independent
numpy reader of the documented layout rebuilds every context from contexts.h5 and the token store
(the documents' tokens in order, each separator position the EOD id, right padding the pad id) and
compares; the files are byte-identical at 1, 2, 3 and 5 ranks; several lengths with upsampling and
the pad policy get their datasets too; `weave run` writes and resumes it; bad options and a store of
another corpus are exit 2 with no output."""
import json
import os
import struct
import subprocess

import h5py
import numpy as np

import weave_e2e as e2e
from megatron_format import write_store  # the independent numpy writer of the layout

EOD, PAD = 65000, 65001


def read_dataset(prefix):
    """numpy over the layout of docs/format.md: the sequences of PREFIX.idx/.bin."""
    with open(prefix + ".idx", "rb") as f:
        raw = f.read()
    assert raw[:9] == b"MMIDIDX\x00\x00"
    version, code, s, d = struct.unpack("<QBQQ", raw[9:34])
    assert version == 1 and d == s + 1, (version, s, d)
    dtype = {8: np.uint16, 4: np.int32}[code]
    lengths = np.frombuffer(raw, np.int32, s, 34)
    pointers = np.frombuffer(raw, np.int64, s, 34 + 4 * s)
    documents = np.frombuffer(raw, np.int64, d, 34 + 12 * s)
    assert np.array_equal(documents, np.arange(d))
    data = np.fromfile(prefix + ".bin", dtype=np.uint8)
    size = np.dtype(dtype).itemsize
    return [np.frombuffer(data[p:p + n * size].tobytes(), dtype) for p, n in zip(pointers, lengths)]


def expected_contexts(contexts_path, sequences, L, eod, pad):
    with h5py.File(contexts_path, "r") as f:
        off = f["contexts/segment_offsets"][:]
        num = f["contexts/num_tokens"][:]
        doc, start, length = f["segments/doc_id"][:], f["segments/doc_offset"][:], f["segments/length"][:]
    out = []
    for c in range(len(num)):
        parts = []
        for s in range(off[c], off[c + 1]):
            stream = np.concatenate([sequences[doc[s]], np.full(1, eod)])  # separator_tokens = 1
            parts.append(stream[start[s]:start[s] + length[s]])
        tokens = np.concatenate(parts + [np.full(L - num[c], pad)]).astype(np.int64)
        assert len(tokens) == L
        out.append(tokens)
    return out


def check(prefix, contexts_path, sequences, L):
    got = read_dataset(prefix)
    want = expected_contexts(contexts_path, sequences, L, EOD, PAD)
    assert len(got) == len(want), (len(got), len(want))
    for c, (g, w) in enumerate(zip(got, want)):
        if not np.array_equal(g.astype(np.int64), w):
            e2e.fail(f"{prefix}: context {c} differs from contexts.h5 + the token store")
    return len(got)


with e2e.scratch() as tmp:
    p = lambda name: os.path.join(tmp, name)
    n = 3000
    e2e.expect_ok(e2e.run(2, "synth", "--docs", n, "--dim", 16, "--sources", 2, "--out", p("c.h5"), "--quiet"), "synth")
    e2e.expect_ok(e2e.run(2, "knn", "--corpus", p("c.h5"), "--k", 5, "--out", p("k.h5"), "--quiet"), "knn")
    e2e.expect_ok(e2e.run(2, "order", "--corpus", p("c.h5"), "--knn", p("k.h5"), "--out", p("o.h5"), "--quiet"), "order")
    with h5py.File(p("c.h5"), "r") as f:
        lengths = f["lengths"][:].astype(np.int64)
    rng = np.random.default_rng(3)
    sequences = [rng.integers(0, 60000, size=int(l)) for l in lengths]
    write_store(p("tok"), sequences)

    # Policy split at 1, 2, 3, 5 ranks: the same bytes, and every context as the oracle builds it.
    common = ["pack", "--corpus", p("c.h5"), "--order", p("o.h5"), "--tokens", p("tok"), "--eod-id", EOD]
    files = {}
    for ranks in (1, 2, 3, 5):
        r = e2e.run(ranks, *common, "--context-length", 2048, "--out", p(f"ctx{ranks}.h5"), "--dataset", p(f"ds{ranks}"))
        e2e.expect_ok(r, f"pack --dataset at {ranks} ranks")
        files[ranks] = [open(p(f"ds{ranks}{s}"), "rb").read() for s in (".idx", ".bin")]
    assert all(v == files[1] for v in files.values()), "the dataset depends on the rank count"
    count = check(p("ds1"), p("ctx1.h5"), sequences, 2048)
    print(f"ok: {count} contexts of 2048 tokens, byte-identical at 1, 2, 3, 5 ranks, equal to the numpy rebuild")

    # inspect of the dataset: sequences, tokens, dtype, and with --eod-id the first sequences'
    # document boundaries, read from the tokens, equal to contexts.h5's cu_seqlens.
    with h5py.File(p("ctx1.h5"), "r") as f:
        seg_off = f["contexts/segment_offsets"][:]
        context_offset = f["segments/context_offset"][:]
    for ranks in (1, 3):
        r = e2e.run(ranks, "inspect", p("ds1"), "--eod-id", EOD, "--json", "--quiet")
        e2e.expect_ok(r, f"inspect of the dataset at {ranks} ranks")
        summary = json.loads(r.stdout)
        assert summary["sequences"] == count and summary["tokens"] == count * 2048 and summary["dtype"] == "uint16", summary
        firsts = summary["first_sequences_document_starts"]
        assert [x["sequence"] for x in firsts] == [0, 1, 2], firsts
        for x in firsts:
            c = x["sequence"]
            want = context_offset[seg_off[c]:seg_off[c + 1]].tolist()
            assert x["document_starts"] == want and x["tokens"] == 2048, (c, x["document_starts"], want)
    r = e2e.run(1, "inspect", p("ds1"), "--eod-id", EOD)
    e2e.expect_ok(r, "inspect of the dataset, text")
    assert "first_sequences_document_starts" in r.stdout, r.stdout
    print("ok: inspect of the dataset: sequences, tokens, dtype, the first contexts' boundaries = cu_seqlens")

    # The same store as three datasets listed in a manifest (relative paths, a comment, uneven split
    # that does not fall on the ranks' boundaries): the same dataset bytes at 1, 2, 3, 5 ranks.
    os.makedirs(p("shards"))
    cuts = [0, 1, 1777, n]  # a one-sequence dataset first
    for i in range(3):
        write_store(p(f"shards/part{i}"), sequences[cuts[i]:cuts[i + 1]])
    with open(p("shards/tokens.txt"), "w") as f:
        f.write("# the corpus's tokens, in row order\npart0\n\npart1\n" + p("shards/part2") + "\n")
    sharded = ["pack", "--corpus", p("c.h5"), "--order", p("o.h5"), "--tokens", p("shards/tokens.txt"), "--eod-id", EOD]
    for ranks in (1, 2, 3, 5):
        r = e2e.run(ranks, *sharded, "--context-length", 2048, "--out", p(f"sctx{ranks}.h5"), "--dataset", p(f"sds{ranks}"))
        e2e.expect_ok(r, f"pack --dataset from a sharded store at {ranks} ranks")
        got = [open(p(f"sds{ranks}{s}"), "rb").read() for s in (".idx", ".bin")]
        assert got == files[1], f"the dataset from the sharded store differs at {ranks} ranks"
    print("ok: a token store of 3 datasets in a manifest gives the same dataset bytes at 1, 2, 3, 5 ranks")
    r = e2e.run(3, "inspect", p("shards/tokens.txt"), "--corpus", p("c.h5"), "--json", "--quiet")
    e2e.expect_ok(r, "inspect of a sharded store")
    summary = json.loads(r.stdout)
    assert summary["kind"] == "tokens" and summary["sequences"] == n and summary["datasets"] == 3, summary
    assert summary["tokens"] == int(lengths.sum()), summary
    print("ok: inspect of the manifest: 3 datasets, every sequence and token")
    write_store(p("shards/wide"), sequences[1777:], dtype=np.int32)
    with open(p("shards/mixed.txt"), "w") as f:
        f.write("part0\npart1\nwide\n")
    with open(p("shards/short.txt"), "w") as f:
        f.write("part0\npart1\n")
    with open(p("shards/missing.txt"), "w") as f:
        f.write("part0\npart1\nnothere\n")
    bad = ["pack", "--corpus", p("c.h5"), "--order", p("o.h5"), "--context-length", 2048, "--out", p("bad.h5"),
           "--dataset", p("bad"), "--eod-id", 1, "--tokens"]
    e2e.run_expecting_user_error(2, bad + [p("shards/mixed.txt")], ["int32", "uint16", "one dtype"], "datasets of two dtypes")
    e2e.run_expecting_user_error(2, bad + [p("shards/short.txt")], ["short.txt", "1777 sequences in 2 datasets", "3000 rows"],
                                 "a manifest short of sequences")
    e2e.run_expecting_user_error(2, bad + [p("shards/missing.txt")], ["nothere"], "a manifest naming a missing dataset")
    print("ok: manifests of mixed dtypes, too few sequences or a missing dataset stop with exit 2")

    # Two lengths, upsampling, the pad policy: each length's dataset matches its contexts file.
    r = e2e.run(3, *common, "--pad-id", PAD, "--policy", "pad", "--context-length", 1024, 4096, "--upsample",
                "min_tokens=800,factor=2", "--out", p("cp.h5"), "--dataset", p("dp"))
    e2e.expect_ok(r, "pack --policy pad, two lengths, upsampling")
    for L in (1024, 4096):
        count = check(p(f"dp.{L}"), p(f"cp.{L}.h5"), sequences, L)
        with h5py.File(p(f"cp.{L}.h5"), "r") as f:
            padded = int(f.attrs["total_padding_tokens"])
        assert padded > 0, "the pad policy padded nothing: the test would not see the pad id"
    print("ok: the pad policy with two lengths and upsampling: every context rebuilt, padding as the pad id")

    # Bad options and stores: exit 2 on every rank, no dataset written.
    base = ["pack", "--corpus", p("c.h5"), "--order", p("o.h5"), "--context-length", 2048, "--out", p("bad.h5")]
    e2e.run_expecting_user_error(2, base + ["--dataset", p("bad")], ["--dataset needs --tokens"], "dataset without tokens")
    e2e.run_expecting_user_error(2, base + ["--tokens", p("tok"), "--dataset", p("bad")], ["--eod-id"], "no eod id")
    e2e.run_expecting_user_error(2, base + ["--tokens", p("tok"), "--dataset", p("bad"), "--eod-id", 1, "--tail", "pad"],
                                 ["--pad-id"], "no pad id with --tail pad")
    e2e.run_expecting_user_error(2, base + ["--tokens", p("tok"), "--dataset", p("bad"), "--eod-id", 70000],
                                 ["--eod-id 70000", "uint16"], "an eod id beyond the dtype")
    changed = list(sequences)
    changed[1500] = changed[1500][:-1]
    write_store(p("other"), changed)
    e2e.run_expecting_user_error(3, base + ["--tokens", p("other"), "--dataset", p("bad"), "--eod-id", 1],
                                 ["other.idx", "row 1500", "/lengths"], "a store of another corpus")
    for f in ("bad.h5", "bad.bin", "bad.idx"):
        assert not os.path.exists(p(f)), f
    print("ok: bad dataset options and a store of another corpus stop before any output")

    # weave run: [pack] tokens writes out_dir/dataset.*; a second run is up to date.
    with open(p("run.toml"), "w") as f:
        f.write(f'out_dir = "{p("run")}"\n[corpus]\npath = "{p("c.h5")}"\n[knn]\nk = 5\n'
                f'[pack]\ncontext_length = 2048\ntokens = "{p("tok")}"\neod_id = {EOD}\n')
    e2e.expect_ok(e2e.run(2, "run", p("run.toml"), "--quiet"), "weave run with tokens")
    check(p("run/dataset"), p("run/contexts.h5"), sequences, 2048)
    again = e2e.run(2, "run", p("run.toml"))
    e2e.expect_ok(again, "weave run again")
    assert "pack: up to date" in again.stdout, again.stdout
    os.remove(p("run/dataset.bin"))
    again = e2e.run(2, "run", p("run.toml"))
    e2e.expect_ok(again, "weave run after the dataset was removed")
    assert "pack: running" in again.stdout and os.path.exists(p("run/dataset.bin")), again.stdout
    print("ok: weave run writes the dataset, skips pack when it is there, redoes pack when it is not")
