"""A corpus without /lengths whose token lengths come from its token store (--lengths-from): knn,
order, pack (with the training dataset) give the same outputs as the same corpus with /lengths, at
2 and 3 ranks; a manifest of datasets works too; without the option, or with a store of another
size, every rank exits 2 with one message; weave run takes [corpus] lengths_from."""
import os

import h5py
import numpy as np

import weave_e2e as e2e
from megatron_format import write_store

EOD = 1

with e2e.scratch() as tmp:
    p = lambda name: os.path.join(tmp, name)
    e2e.expect_ok(e2e.run(2, "synth", "--docs", 2500, "--dim", 16, "--out", p("c.h5"), "--quiet"), "synth")
    with h5py.File(p("c.h5"), "r") as f, h5py.File(p("nolen.h5"), "w") as g:
        lengths = f["lengths"][:].astype(np.int64)
        for name in f:
            if name != "lengths":
                g[name] = f[name][:]
    rng = np.random.default_rng(5)
    sequences = [rng.integers(2, 50000, size=int(l)) for l in lengths]
    write_store(p("tok"), sequences)
    write_store(p("part0"), sequences[:1000])
    write_store(p("part1"), sequences[1000:])
    with open(p("tokens.txt"), "w") as f:
        f.write("part0\npart1\n")

    def pipeline(ranks, corpus, tag, extra):
        for args in (["knn", "--corpus", corpus, "--k", 6, "--out", p(f"k{tag}.h5")],
                     ["order", "--corpus", corpus, "--knn", p(f"k{tag}.h5"), "--out", p(f"o{tag}.h5")],
                     ["pack", "--corpus", corpus, "--order", p(f"o{tag}.h5"), "--context-length", 1024,
                      "--out", p(f"x{tag}.h5"), "--tokens", p("tok"), "--dataset", p(f"d{tag}"), "--eod-id", EOD]):
            e2e.expect_ok(e2e.run(ranks, *args, *extra, "--quiet"), f"{args[0]} ({tag})")
        out = {}
        with h5py.File(p(f"k{tag}.h5"), "r") as f:
            out["neighbors"] = f["neighbors"][:]
        with h5py.File(p(f"o{tag}.h5"), "r") as f:
            out["order"] = f["order"][:]
        with h5py.File(p(f"x{tag}.h5"), "r") as f:
            for name in ("contexts/segment_offsets", "segments/doc_id", "segments/length", "segments/context_offset"):
                out[name] = f[name][:]
        out["dataset"] = open(p(f"d{tag}.bin"), "rb").read() + open(p(f"d{tag}.idx"), "rb").read()
        return out

    want = pipeline(2, p("c.h5"), "ref", [])
    for ranks, store in ((2, p("tok")), (3, p("tokens.txt"))):
        got = pipeline(ranks, p("nolen.h5"), f"s{ranks}", ["--lengths-from", store])
        for key in want:
            same = want[key] == got[key] if key == "dataset" else np.array_equal(want[key], got[key])
            if not same:
                e2e.fail(f"--lengths-from {os.path.basename(store)} at {ranks} ranks: {key} differs from the corpus with /lengths")
    print("ok: knn, order, pack and the dataset from a corpus without /lengths (--lengths-from a store or a "
          "manifest) equal those of the corpus with /lengths, at 2 and 3 ranks")

    e2e.run_expecting_user_error(2, ["knn", "--corpus", p("nolen.h5"), "--k", 6, "--out", p("bad.h5")],
                                 ["nolen.h5", "/lengths", "--lengths-from"], "a corpus without /lengths, no store")
    write_store(p("short"), sequences[:-1])
    e2e.run_expecting_user_error(3, ["knn", "--corpus", p("nolen.h5"), "--k", 6, "--out", p("bad.h5"),
                                     "--lengths-from", p("short")], ["short.idx", "2499 sequences", "2500 rows"],
                                 "a store one sequence short")
    assert not os.path.exists(p("bad.h5"))
    print("ok: no /lengths and no store, or a store of another size: exit 2, one message")

    with open(p("run.toml"), "w") as f:
        f.write(f'out_dir = "{p("run")}"\n[corpus]\npath = "{p("nolen.h5")}"\nlengths_from = "{p("tok")}"\n'
                f'[knn]\nk = 6\n[pack]\ncontext_length = 1024\ntokens = "{p("tok")}"\neod_id = {EOD}\n')
    e2e.expect_ok(e2e.run(2, "run", p("run.toml"), "--quiet"), "weave run with [corpus] lengths_from")
    with h5py.File(p("run/contexts.h5"), "r") as f:
        if not np.array_equal(f["segments/doc_id"][:], want["segments/doc_id"]):
            e2e.fail("weave run with lengths_from: contexts differ from the corpus with /lengths")
    print("ok: weave run with [corpus] lengths_from")
