"""The command line: help, version, rejected options and values (exit 2), the printed
configuration, --quiet, --report, and an existing output surviving a failed synth."""
import json
import os

import weave_e2e as e2e

r = e2e.run(1, "--help")
e2e.expect_ok(r, "--help")
assert "synth" in r.stdout and "inspect" in r.stdout, r.stdout
r = e2e.run(1, "synth", "--help")
e2e.expect_ok(r, "synth --help")
for option in ("--docs", "--dim", "--topics", "--seed", "--duplicate-share", "--min-tokens", "--max-tokens", "--dtype"):
    assert option in r.stdout, option
r = e2e.run(1, "--version")
e2e.expect_ok(r, "--version")
assert r.stdout.startswith("weave "), r.stdout
print("ok: help and version")

with e2e.scratch() as tmp:
    out = os.path.join(tmp, "c.h5")
    e2e.run_expecting_user_error(2, ["synth", "--out", out, "--no-such-option", "1"], ["--no-such-option"], "unknown option")
    e2e.run_expecting_user_error(2, ["synth", "--out", out, "--dtype", "int8"], ["--dtype"], "bad dtype")
    e2e.run_expecting_user_error(2, ["synth", "--out", out, "--docs", "-5"], ["--docs must be positive"], "negative docs")
    e2e.run_expecting_user_error(2, ["synth", "--out", out, "--docs", "1"], ["smaller than the 2 ranks"], "docs < ranks")
    e2e.run_expecting_user_error(2, ["synth", "--out", os.path.join(tmp, "no", "dir", "c.h5")], ["does not exist"],
                                 "missing output folder")
    e2e.run_expecting_user_error(2, ["inspect"], ["file is required"], "missing file")
    assert not os.path.exists(out)
    print("ok: rejected options")

    # The effective configuration is printed at start; --quiet prints nothing.
    r = e2e.run(2, "synth", "--docs", 5000, "--dim", 8, "--out", out, "--report", os.path.join(tmp, "r.json"))
    e2e.expect_ok(r, "synth")
    first = r.stdout.splitlines()[0]
    assert first.startswith("weave synth (v") and "docs=5000" in first and "dim=8" in first, first
    report = json.load(open(os.path.join(tmp, "r.json")))
    assert report["ranks"] == 2 and report["configuration"]["docs"] == 5000
    stage = report["stages"][0]
    assert stage["stage"] == "synth" and 0 <= stage["wall_seconds"]["min"] <= stage["wall_seconds"]["max"]
    assert report["peak_memory_bytes"]["max"] > 0
    # The kernel's share: synth fills fresh buffers, so every rank faults pages in.
    assert stage["page_faults"]["min"] > 0 and stage["page_faults"]["total"] >= 2 * stage["page_faults"]["min"], stage
    assert 0 <= stage["system_seconds"]["min"] <= stage["system_seconds"]["max"], stage
    # The MPI transport's shared memory: part of the resident size, never more than it.
    for part in (stage, report):
        assert 0 <= part["shared_memory_bytes"]["max"] <= report["peak_memory_bytes"]["max"], part
    r = e2e.run(2, "inspect", out, "--quiet")
    e2e.expect_ok(r, "inspect --quiet")
    assert not r.stdout.startswith("weave inspect (v"), r.stdout
    print("ok: configuration line, --quiet, --report")

    # A failure on one rank at the very end leaves the existing output as it was, and no .tmp.
    before = open(out, "rb").read()
    e2e.run_expecting_user_error(2, ["synth", "--docs", 6000, "--dim", 8, "--out", out], ["injected failure on rank 1"],
                                 "failure at commit", env={"WEAVE_INJECT_FAILURE": "1"})
    assert open(out, "rb").read() == before, "the previous output was modified"
    assert not os.path.exists(out + ".tmp"), "a .tmp was left behind"
    print("ok: failed synth kept the previous output")
