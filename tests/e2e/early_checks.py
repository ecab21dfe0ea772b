"""Early checks (issue: reliability): every stage checks its output path — the folder exists, a file
can be created there, and the file system has room — before it computes, so a bad path costs
seconds, not the whole run; --report too. A failed `weave run` removes the folder it created for
nothing. Also: an unknown command is named, repeated context lengths are refused, warnings go to
stderr."""
import os
import time

import weave_e2e as e2e

with e2e.scratch() as tmp:
    corpus = os.path.join(tmp, "c.h5")
    e2e.expect_ok(e2e.run(2, "synth", "--docs", 64000, "--dim", 128, "--out", corpus, "--quiet"), "synth")
    missing = os.path.join(tmp, "no", "such")

    # knn: the failure comes before the search. Measured against the successful run of the same
    # search (~6 s here): the old code failed only after the whole search.
    t0 = time.monotonic()
    e2e.expect_ok(e2e.run(2, "knn", "--corpus", corpus, "--k", 10, "--out", os.path.join(tmp, "knn.h5"), "--quiet"),
                  "knn")
    ok_seconds = time.monotonic() - t0
    bad_knn = ["knn", "--corpus", corpus, "--out", os.path.join(missing, "knn.h5")]
    t0 = time.monotonic()
    r = e2e.run(2, *bad_knn)
    fail_seconds = time.monotonic() - t0
    e2e.expect_user_error(r, ["output folder", "does not exist"], "knn into a missing folder (timed)")
    e2e.run_expecting_user_error(2, bad_knn, ["output folder", "does not exist"], "knn into a missing folder")
    # An immediate failure still costs mpirun 1-2 s to take the job down; a late one costs the search
    # and that. So the refusal must take well under the successful run.
    print(f"  knn: {ok_seconds:.1f} s to succeed, {fail_seconds:.1f} s to refuse a missing output folder")
    if fail_seconds > 0.6 * ok_seconds:
        e2e.fail(f"knn refused the missing output folder only after {fail_seconds:.1f} s (the search takes {ok_seconds:.1f} s)")

    # A folder where no file can be created (root bypasses permissions, so /proc stands in for a
    # read-only one): the probe names it.
    e2e.run_expecting_user_error(2, ["knn", "--corpus", corpus, "--out", "/proc/weave-knn.h5"],
                                 ["/proc/weave-knn.h5", "cannot create a file in the output folder /proc"],
                                 "knn into a folder that takes no files")
    knn = os.path.join(tmp, "knn.h5")
    e2e.run_expecting_user_error(2, ["order", "--knn", knn, "--corpus", corpus, "--out", os.path.join(missing, "o.h5")],
                                 ["output folder", "does not exist"], "order into a missing folder")
    e2e.expect_ok(e2e.run(2, "order", "--knn", knn, "--corpus", corpus, "--out", os.path.join(tmp, "o.h5"), "--quiet"),
                  "order")
    e2e.run_expecting_user_error(2, ["pack", "--order", os.path.join(tmp, "o.h5"), "--corpus", corpus,
                                     "--context-length", "512,1024", "--out", os.path.join(missing, "ctx.h5")],
                                 ["ctx.512.h5", "output folder", "does not exist"], "pack into a missing folder")
    e2e.run_expecting_user_error(2, ["knn", "--corpus", corpus, "--out", os.path.join(tmp, "k2.h5"), "--report",
                                     os.path.join(missing, "r.json")], ["r.json", "does not exist"],
                                 "--report into a missing folder")
    # Room: a synthetic corpus of 10^12 documents needs ~260,000 GiB; refused at once, nothing written.
    t0 = time.monotonic()
    e2e.run_expecting_user_error(2, ["synth", "--docs", 10**12, "--out", os.path.join(tmp, "huge.h5")],
                                 ["huge.h5", "the output needs about", "free"], "synth larger than the disk")
    assert not os.path.exists(os.path.join(tmp, "huge.h5")) and not os.path.exists(os.path.join(tmp, "huge.h5.tmp"))
    print(f"ok: outputs checked before the work ({time.monotonic() - t0:.1f} s for the disk-room refusal)")

    # weave run: a failure leaves no empty folder behind; a folder that existed stays.
    fresh = os.path.join(tmp, "fresh", "run")
    e2e.run_expecting_user_error(2, ["run", "--set", f"corpus.path={tmp}/none.h5", "--set", f"out_dir={fresh}"],
                                 ["none.h5", "no such file"], "run on a missing corpus")
    if os.path.exists(fresh):
        e2e.fail(f"the failed run left its empty output folder {fresh}")
    os.makedirs(os.path.join(tmp, "kept"))
    e2e.run_expecting_user_error(2, ["run", "--set", f"corpus.path={tmp}/none.h5", "--set", f"out_dir={tmp}/kept"],
                                 ["none.h5"], "run on a missing corpus into an existing folder")
    assert os.path.isdir(os.path.join(tmp, "kept")), "a folder that existed before the run was removed"
    print("ok: a failed run removes only the folder it created")

    e2e.run_expecting_user_error(2, ["frob"], ["unknown command 'frob'", "synth", "run"], "unknown command")
    e2e.run_expecting_user_error(2, ["pack", "--order", os.path.join(tmp, "o.h5"), "--corpus", corpus,
                                     "--context-length", "512,512", "--out", os.path.join(tmp, "x.h5")],
                                 ["--context-length 512,512", "given twice"], "a repeated context length")

    # Warnings go to stderr; stdout keeps the results.
    small = os.path.join(tmp, "small.h5")
    e2e.expect_ok(e2e.run(1, "synth", "--docs", 5, "--out", small, "--quiet"), "synth 5")
    r = e2e.run(1, "knn", "--corpus", small, "--k", 10, "--out", os.path.join(tmp, "small_knn.h5"))
    e2e.expect_ok(r, "knn with fewer documents than k")
    if "warning" in r.stdout or "warning: the corpus has 5 documents" not in r.stderr:
        e2e.fail(f"the warning should be on stderr only\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}")
    print("ok: unknown command named, repeated lengths refused, warnings on stderr")
