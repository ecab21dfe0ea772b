"""The token store (issue: tokens in, a training-ready dataset out): a Megatron-LM indexed dataset
(PREFIX.idx + PREFIX.bin) written here with numpy over the layout of docs/format.md — independent of
Weave's reader — is read by `weave inspect` at 1, 2, 3 and 5 ranks (sequences, tokens, lengths the
same everywhere) and checked against its corpus (`--corpus`: one sequence per row, lengths equal to
/lengths). Every bad token store is exit 2 on every rank with one message naming the file (and the
row): a bad magic, an unknown dtype code, another version, a truncated .idx, a truncated .bin, extra
bytes in the .bin, a pointer out of place, a document index that is not one sequence per document,
a row count or a length that disagrees with the corpus."""
import json
import os
import shutil

import h5py
import numpy as np

import weave_e2e as e2e
from megatron_format import write_store

with e2e.scratch() as tmp:
    p = lambda name: os.path.join(tmp, name)
    n = 2500
    e2e.expect_ok(e2e.run(2, "synth", "--docs", n, "--dim", 16, "--out", p("c.h5"), "--quiet"), "synth")
    with h5py.File(p("c.h5"), "r") as f:
        lengths = f["lengths"][:].astype(np.int64)
    rng = np.random.default_rng(5)
    sequences = [rng.integers(0, 50000, size=int(l)) for l in lengths]
    write_store(p("tok"), sequences)

    summaries = {}
    for ranks in (1, 2, 3, 5):
        for target in ("tok", "tok.idx", "tok.bin"):
            r = e2e.run(ranks, "inspect", p(target), "--json")
            e2e.expect_ok(r, f"inspect {target} at {ranks} ranks")
            summaries[(ranks, target)] = json.loads(r.stdout)
    s = summaries[(1, "tok")]
    assert s["kind"] == "tokens" and s["dtype"] == "uint16", s
    assert s["sequences"] == n and s["tokens"] == int(lengths.sum()), s
    assert s["shortest_sequence"] == int(lengths.min()) and s["longest_sequence"] == int(lengths.max()), s
    assert s["bin_bytes"] == 2 * int(lengths.sum()) and s["idx_bytes"] == 34 + 12 * n + 8 * (n + 1), s
    assert all(v == s for v in summaries.values()), "the summary depends on the rank count or the path form"
    r = e2e.run(3, "inspect", p("tok.idx"), "--corpus", p("c.h5"), "--json")
    e2e.expect_ok(r, "inspect the token store against its corpus")
    assert json.loads(r.stdout)["aligned_with_corpus"] == p("c.h5")
    text = e2e.run(2, "inspect", p("tok"))
    e2e.expect_ok(text, "inspect as text")
    assert "tokens file" in text.stdout and str(int(lengths.sum())) in text.stdout, text.stdout
    print(f"ok: a numpy-written token store of {n} sequences reads the same at 1, 2, 3, 5 ranks and matches its corpus")

    # Other dtypes the format knows (int32 tokens: vocabularies above 65,535).
    write_store(p("tok32"), sequences, dtype=np.int32)
    r = e2e.run(2, "inspect", p("tok32.idx"), "--json")
    e2e.expect_ok(r, "int32 store")
    assert json.loads(r.stdout)["dtype"] == "int32" and json.loads(r.stdout)["bin_bytes"] == 4 * int(lengths.sum())

    def bad(name, fragments, corpus=False, ranks=(3,)):
        for k in ranks:
            args = ["inspect", p(name + ".idx")] + (["--corpus", p("c.h5")] if corpus else [])
            e2e.run_expecting_user_error(k, args, fragments, f"{name} at {k} ranks")

    def copy_store(name):
        shutil.copy(p("tok.idx"), p(name + ".idx"))
        shutil.copy(p("tok.bin"), p(name + ".bin"))

    copy_store("magic")
    with open(p("magic.idx"), "r+b") as f:
        f.write(b"XXXXXXX")
    bad("magic", ["magic.idx", "not a Megatron indexed dataset index"])
    with open(p("magic.idx"), "r+b") as f:
        f.write(b"MMIDIDX")
    write_store(p("code"), sequences, code=9)
    bad("code", ["code.idx", "unknown dtype code 9"])
    write_store(p("version"), sequences, version=2)
    bad("version", ["version.idx", "index version 2"])
    copy_store("short_idx")
    with open(p("short_idx.idx"), "r+b") as f:
        f.truncate(34 + 12 * n)
    bad("short_idx", ["short_idx.idx", "truncated"])
    copy_store("short_bin")
    cut = 2 * int(lengths[: 1700].sum()) + 3  # inside row 1700
    with open(p("short_bin.bin"), "r+b") as f:
        f.truncate(cut)
    bad("short_bin", ["short_bin.bin", "row 1700", "truncated"])
    copy_store("long_bin")
    with open(p("long_bin.bin"), "ab") as f:
        f.write(b"\0\0")
    bad("long_bin", ["long_bin.bin", "extra bytes"])
    pointers = np.concatenate([[0], np.cumsum(lengths * 2)[:-1]])
    pointers[1234] += 2
    write_store(p("pointer"), sequences, pointers=pointers)
    bad("pointer", ["pointer.idx", "row 1234", "points to byte"])
    documents = np.arange(n + 1)
    documents[777] = 778
    write_store(p("documents"), sequences, documents=documents)
    bad("documents", ["documents.idx", "document entry 777", "one sequence per document"])
    write_store(p("rows"), sequences[:-1])
    bad("rows", ["rows.idx", "2499 sequences", "c.h5", "2500 rows"], corpus=True)
    changed = list(sequences)
    changed[2222] = np.concatenate([changed[2222], [7]])
    write_store(p("length"), changed)
    bad("length", ["length.idx", "row 2222", f"{len(changed[2222])} tokens", f"/lengths of {p('c.h5')} says {lengths[2222]}"],
        corpus=True, ranks=(1, 2, 5))
    e2e.run_expecting_user_error(2, ["inspect", p("missing.idx")], ["missing.idx", "cannot open"], "missing store")
    print("ok: every bad token store is exit 2 on every rank, naming the file and the row")
