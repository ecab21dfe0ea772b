"""`weave run`: the whole pipeline from a TOML file; a second run skips every stage; changing k
redoes knn, order and pack only; the outputs equal the stage-by-stage commands; bad configurations
are rejected (exit 2)."""
import os

import h5py
import numpy as np

import weave_e2e as e2e

CONFIG = """
out_dir = "{out}"
[synth]
docs = 1500
dim = 16
topics = 12
[knn]
k = 6
[pack]
context_length = [512, 2048]
separator_tokens = 1
"""


def stage_lines(result):
    return [l for l in result.stdout.splitlines() if l.startswith("[run] ") and not l.startswith("[run] done")]


with e2e.scratch() as tmp:
    out = os.path.join(tmp, "out")
    cfg = os.path.join(tmp, "run.toml")
    with open(cfg, "w") as f:
        f.write(CONFIG.format(out=out))
    r = e2e.run(2, "run", cfg)
    e2e.expect_ok(r, "first run")
    assert all(l.endswith("running") for l in stage_lines(r)) and len(stage_lines(r)) == 4, r.stdout
    outputs = ["corpus.h5", "knn.h5", "order.h5", "contexts.512.h5", "contexts.2048.h5"]
    mtimes = {o: os.stat(os.path.join(out, o)).st_mtime_ns for o in outputs}
    print("ok: first run made", ", ".join(outputs))

    r = e2e.run(3, "run", cfg)
    e2e.expect_ok(r, "second run")
    assert all("up to date" in l for l in stage_lines(r)), r.stdout
    assert all(os.stat(os.path.join(out, o)).st_mtime_ns == mtimes[o] for o in outputs), "a skipped stage rewrote its output"
    print("ok: a second run (at 3 ranks) skips every stage")

    r = e2e.run(2, "run", cfg, "--set", "knn.k=8")
    e2e.expect_ok(r, "run with k=8")
    lines = stage_lines(r)
    assert "up to date" in lines[0] and all(l.endswith("running") for l in lines[1:]), r.stdout
    assert os.stat(os.path.join(out, "corpus.h5")).st_mtime_ns == mtimes["corpus.h5"]
    with h5py.File(os.path.join(out, "knn.h5"), "r") as f:
        assert f.attrs["k"] == 8
    print("ok: changing k redoes knn, order and pack only")

    # The pipeline's files equal what the stage commands make from the same corpus.
    corpus = os.path.join(out, "corpus.h5")
    steps = [("knn", ["--corpus", corpus, "--k", 8, "--out", os.path.join(tmp, "knn.h5")]),
             ("order", ["--knn", os.path.join(tmp, "knn.h5"), "--corpus", corpus, "--out", os.path.join(tmp, "order.h5")]),
             ("pack", ["--order", os.path.join(tmp, "order.h5"), "--corpus", corpus, "--context-length", 2048,
                       "--separator-tokens", 1, "--out", os.path.join(tmp, "ctx.h5")])]
    for name, args in steps:
        e2e.expect_ok(e2e.run(2, name, *args, "--quiet"), name)
    with h5py.File(os.path.join(out, "contexts.2048.h5"), "r") as a, h5py.File(os.path.join(tmp, "ctx.h5"), "r") as b:
        for k in ("contexts/segment_offsets", "segments/doc_id", "segments/length"):
            assert np.array_equal(a[k][:], b[k][:]), k
    print("ok: weave run equals the stage commands")

    bad = os.path.join(tmp, "bad.toml")
    with open(bad, "w") as f:
        f.write("[knn]\nk = 'ten'\n")
    e2e.run_expecting_user_error(2, ["run", bad], ["knn.k must be an integer"], "bad value")
    with open(bad, "w") as f:
        f.write("[knn\nk = 1\n")
    e2e.run_expecting_user_error(2, ["run", bad], ["bad.toml"], "TOML syntax error")
    e2e.run_expecting_user_error(2, ["run", cfg, "--set", "pack.colour=1"], ["unknown key pack.colour"], "unknown key")
    e2e.run_expecting_user_error(2, ["run", os.path.join(tmp, "none.toml")], ["cannot read"], "missing file")
    # Strict configuration: a section written as a value, a value of the wrong type, bare strings in --set.
    with open(bad, "w") as f:
        f.write(f'out_dir = "{out}"\ncorpus = "{corpus}"\n')
    e2e.run_expecting_user_error(2, ["run", bad], ["corpus is a section, not a value", "bad.toml, line 2"],
                                 "section written as a value")
    with open(bad, "w") as f:
        f.write("out_dir = 5\n")
    e2e.run_expecting_user_error(2, ["run", bad], ["out_dir must be a string", "bad.toml, line 1"], "out_dir = 5")
    e2e.run_expecting_user_error(2, ["run", cfg, "--set", "knn.k=2O"], ["knn.k must be an integer", "--set knn.k=2O"],
                                 "a typo in --set")
    # A bare string reaches the stage: here the missing corpus is named (it would be a TOML error before).
    e2e.run_expecting_user_error(2, ["run", cfg, "--set", f"corpus.path={tmp}/missing.h5"],
                                 [f"{tmp}/missing.h5"], "bare string in --set")
    r = e2e.run(1, "run", "--print-default-config")
    e2e.expect_ok(r, "print default")
    assert "[knn]" in r.stdout and "context_length" in r.stdout
    print("ok: bad configurations rejected")
