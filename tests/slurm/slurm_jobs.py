"""The scripts of mpi_jobs/ on a real Slurm (a private single-node one, tests/slurm/private_slurm.py).

    slurm_jobs.py pipeline   slurm_pipeline.sbatch with 2 tasks == mpirun -n 2 of the same configuration
    slurm_jobs.py resume     the job cancelled (scancel) inside the knn stage, submitted again: it
                             skips synth, redoes knn, and ends with the files of an uninterrupted run
    slurm_jobs.py array      submit_array.sh + slurm_array.sbatch: a sweep over ranks and k split into
                             two arrays (MaxArraySize 3), %A_%a outputs, collect_reports.py's table
    slurm_jobs.py failure    jobs on a bad corpus (pipeline, GPU kNN): the job's state says exit status 2

ctest sets WEAVE (the program); by hand: WEAVE=build/release/src/weave /usr/bin/python3 tests/slurm/slurm_jobs.py pipeline
Needs slurmctld, slurmd, munge and the Slurm clients (scripts/install-slurm.sh, run by scripts/test.sh).
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
import weave_e2e as e2e  # noqa: E402
from private_slurm import PrivateSlurm, SlurmUnavailable  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
JOBS = os.path.join(REPO, "mpi_jobs")
WEAVE = os.path.abspath(e2e.WEAVE) if os.path.sep in e2e.WEAVE else shutil.which(e2e.WEAVE)
OUTPUTS = ["corpus.h5", "knn.h5", "order.h5", "contexts.1024.h5", "contexts.4096.h5"]

CONFIG = """
out_dir = "{out}"
[synth]
docs = {docs}
dim = {dim}
topics = 40
[knn]
k = 8
[pack]
context_length = [1024, 4096]
"""


def write_config(folder, out, docs, dim, name="run.toml"):
    path = os.path.join(folder, name)
    with open(path, "w") as f:
        f.write(CONFIG.format(out=out, docs=docs, dim=dim))
    return path


def same_values(x, y):
    x, y = np.asarray(x), np.asarray(y)
    if x.dtype != y.dtype or x.shape != y.shape:
        return False
    return np.array_equal(x, y, equal_nan=x.dtype.kind in "fc")  # NaN marks "none" (link_similarity[0])


def same_h5(a, b, datasets_only=False):
    """Every dataset and attribute of a equals b's (the files differ only in HDF5's object times);
    datasets_only: files made in different folders, whose provenance attributes name other paths."""
    problems = []
    with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
        def attrs_equal(x, y, where):
            if datasets_only:
                return
            if set(x.attrs) != set(y.attrs):
                problems.append(f"{where}: attributes {sorted(x.attrs)} vs {sorted(y.attrs)}")
                return
            for key in x.attrs:
                if not same_values(x.attrs[key], y.attrs[key]):
                    problems.append(f"{where}: attribute {key} differs")
        attrs_equal(fa, fb, "/")
        names_a, names_b = [], []
        fa.visit(names_a.append)
        fb.visit(names_b.append)
        if names_a != names_b:
            problems.append(f"objects differ: {names_a} vs {names_b}")
        for name in names_a:
            if name not in fb:
                continue
            x, y = fa[name], fb[name]
            attrs_equal(x, y, name)
            if isinstance(x, h5py.Dataset) and not same_values(x[()], y[()]):
                problems.append(f"dataset {name} differs")
    return problems


def expect_same_outputs(out, reference, what):
    for name in OUTPUTS:
        problems = same_h5(os.path.join(out, name), os.path.join(reference, name))
        if problems:
            e2e.fail(f"{what}: {name} differs from the mpirun run: " + "; ".join(problems[:5]))
    leftovers = [f for f in os.listdir(out) if f.endswith(".tmp")]
    if leftovers:
        e2e.fail(f"{what}: temporary files left in {out}: {leftovers}")
    print(f"ok: {what}: {', '.join(OUTPUTS)} identical to mpirun -n 2")


def mpirun_reference(config, out):
    """The same configuration under mpirun -n 2; its outputs moved aside to OUT.mpirun."""
    r = e2e.run(2, "run", config, "--quiet", timeout=600)
    e2e.expect_ok(r, "mpirun -n 2 weave run")
    reference = out + ".mpirun"
    os.rename(out, reference)
    return reference


def job_env(**extra):
    return dict({"WEAVE": WEAVE}, **extra)


def read(path):
    with open(path, errors="replace") as f:
        return f.read()


def expect_state(records, state, exit_code, what, output=None):
    got = [(r.get("JobState"), r.get("ExitCode")) for r in records]
    if any(g != (state, exit_code) for g in got):
        detail = read(output) if output and os.path.exists(output) else ""
        e2e.fail(f"{what}: job states {got}, expected {state} with ExitCode {exit_code}\n{detail}")


def stage_lines(text):
    return [l for l in text.splitlines() if l.startswith("[run] ") and not l.startswith("[run] done")]


def case_pipeline(slurm, tmp):
    out = os.path.join(tmp, "out")
    config = write_config(tmp, out, docs=3000, dim=32)
    reference = mpirun_reference(config, out)
    report = os.path.join(tmp, "report.json")
    job = slurm.sbatch(["--ntasks=2", os.path.join(JOBS, "slurm_pipeline.sbatch"), config],
                       env=job_env(WEAVE_REPORT=report), cwd=tmp)
    output = os.path.join(tmp, f"weave-{job}.out")  # the script's own --output=weave-%j.out
    expect_state(slurm.wait(job), "COMPLETED", "0:0", "pipeline job", output)
    text = read(output)
    for fragment in (f"job {job}", "2 ranks", f"report to {report}", "[run] done"):
        if fragment not in text:
            e2e.fail(f"pipeline job: its output {output} lacks {fragment!r}:\n{text}")
    with open(report) as f:
        ranks = json.load(f)["ranks"]
    if ranks != 2:
        e2e.fail(f"pipeline job: the report says {ranks} ranks, expected 2 (srun started separate MPI worlds?)")
    expect_same_outputs(out, reference, "pipeline job (sbatch --ntasks=2)")


def case_resume(slurm, tmp):
    out = os.path.join(tmp, "out")
    # Large enough that the exact kNN runs for several seconds at 2 ranks here (about 6 s).
    config = write_config(tmp, out, docs=60000, dim=128)
    reference = mpirun_reference(config, out)
    script = os.path.join(JOBS, "slurm_pipeline.sbatch")
    first = slurm.sbatch(["--ntasks=2", script, config], env=job_env(WEAVE_REPORT=os.path.join(tmp, "r1.json")), cwd=tmp)
    output = os.path.join(tmp, f"weave-{first}.out")
    deadline = time.time() + 300
    while "[run] knn: running" not in (read(output) if os.path.exists(output) else ""):
        if time.time() > deadline or slurm.job(first)[0].get("JobState") not in ("PENDING", "RUNNING", "CONFIGURING"):
            e2e.fail(f"resume: the first job never reached the knn stage: {slurm.job(first)}\n"
                     f"{read(output) if os.path.exists(output) else ''}")
        time.sleep(0.1)
    time.sleep(1.0)  # well inside the kNN, which takes several seconds
    slurm.client(["scancel", first])
    records = slurm.wait(first)
    expect_state(records, "CANCELLED", records[0].get("ExitCode"), "resume: the cancelled job", output)
    if os.path.exists(os.path.join(out, "knn.h5")):
        e2e.fail("resume: knn.h5 exists after the cancel: the knn stage had finished (make the corpus larger)")
    if not os.path.exists(os.path.join(out, "corpus.h5")):
        e2e.fail("resume: corpus.h5 is missing after the cancel (synth had finished)")
    print(f"ok: resume: job {first} cancelled inside the knn stage; corpus.h5 kept, no knn.h5")

    second = slurm.sbatch(["--ntasks=2", script, config], env=job_env(WEAVE_REPORT=os.path.join(tmp, "r2.json")), cwd=tmp)
    output2 = os.path.join(tmp, f"weave-{second}.out")
    expect_state(slurm.wait(second), "COMPLETED", "0:0", "resume: the resubmitted job", output2)
    lines = stage_lines(read(output2))
    expected = ["[run] synth: up to date", "[run] knn: running", "[run] order: running", "[run] pack: running"]
    if len(lines) != 4 or any(not l.startswith(e) for l, e in zip(lines, expected)):
        e2e.fail(f"resume: the resubmitted job's stages {lines}, expected {expected}")
    print(f"ok: resume: job {second} skipped synth and went on at knn")
    expect_same_outputs(out, reference, "resume (cancelled, resubmitted)")


def case_array(slurm, tmp):
    sweep = write_config(tmp, os.path.join(tmp, "unused"), docs=2000, dim=16, name="sweep.toml")
    points = [(ranks, k) for ranks in (1, 2) for k in (5, 8)]
    tasks = os.path.join(tmp, "tasks.txt")
    with open(tasks, "w") as f:
        f.write("# a sweep over rank counts and k (comment and blank lines do not count)\n\n")
        for ranks, k in points:
            f.write(f"ranks={ranks} {sweep} --set knn.k={k} --set out_dir={tmp}/sweep/r{ranks}-k{k}\n")
    reports = os.path.join(tmp, "reports")
    submitted = subprocess.run([os.path.join(JOBS, "submit_array.sh"), tasks, "--ntasks=2"], capture_output=True,
                               text=True, cwd=tmp, env=dict(slurm.env, WEAVE=WEAVE, WEAVE_REPORT_DIR=reports))
    if submitted.returncode != 0:
        e2e.fail(f"submit_array.sh: exit {submitted.returncode}\n{submitted.stdout}\n{submitted.stderr}")
    jobs = [l.split()[2].rstrip(":") for l in submitted.stdout.splitlines() if l.startswith("submit_array: job ")]
    if len(jobs) != 2:
        e2e.fail(f"submit_array.sh: expected 2 arrays (4 tasks, MaxArraySize 3), got {jobs}\n{submitted.stdout}")
    print(f"ok: array: 4 tasks submitted as arrays {jobs} (MaxArraySize {slurm.max_array_size})")
    task_count = 0
    for job, tasks_in_job in zip(jobs, (3, 1)):
        records = slurm.wait(job)
        if len(records) != tasks_in_job:
            e2e.fail(f"array {job}: {len(records)} tasks, expected {tasks_in_job}: {records}")
        for r in records:
            output = os.path.join(tmp, f"weave-array-{job}_{r['ArrayTaskId']}.out")  # %A_%a
            expect_state([r], "COMPLETED", "0:0", f"array task {job}_{r['ArrayTaskId']}", output)
            if not os.path.exists(output):
                e2e.fail(f"array task {job}_{r['ArrayTaskId']}: no output file {output}")
            task_count += 1
    table = subprocess.run(["/usr/bin/python3", os.path.join(JOBS, "collect_reports.py"), reports], capture_output=True,
                           text=True)
    if table.returncode != 0:
        e2e.fail(f"collect_reports.py: exit {table.returncode}\n{table.stderr}")
    rows = [l for l in table.stdout.splitlines() if l.startswith("| ") and not l.startswith("| report")]
    got = sorted((int(r.split("|")[2]), int(r.split("|")[4])) for r in rows)
    if task_count != 4 or got != sorted(points):
        e2e.fail(f"array: tasks {task_count}, table rows (ranks, k) {got}, expected {sorted(points)}\n{table.stdout}")
    print("ok: array: collect_reports.py table\n" + table.stdout)
    for k in (5, 8):  # the same point at 1 and 2 ranks: the same contexts
        a, b = (os.path.join(tmp, "sweep", f"r{ranks}-k{k}", "contexts.4096.h5") for ranks in (1, 2))
        problems = same_h5(a, b, datasets_only=True)
        if problems:
            e2e.fail(f"array: k={k}: 1-rank and 2-rank tasks made different contexts: {problems[:3]}")
    print("ok: array: each k's contexts identical at 1 and 2 ranks")


def case_failure(slurm, tmp):
    bad = os.path.join(tmp, "bad.h5")
    with h5py.File(bad, "w") as f:
        f["embeddings"] = np.ones((50, 8), np.float32)
        f["lengths"] = np.full(40, 100, np.int64)  # 40 lengths for 50 rows
    config = os.path.join(tmp, "bad.toml")
    with open(config, "w") as f:
        f.write(f'out_dir = "{tmp}/out"\n[corpus]\npath = "{bad}"\n')
    job = slurm.sbatch(["--ntasks=2", os.path.join(JOBS, "slurm_pipeline.sbatch"), config], env=job_env(), cwd=tmp)
    output = os.path.join(tmp, f"weave-{job}.out")
    expect_state(slurm.wait(job), "FAILED", "2:0", "a job on a bad corpus", output)
    errors = [l for l in read(output).splitlines() if l.startswith("weave: error")]
    if len(errors) != 1 or bad not in errors[0]:
        e2e.fail(f"a job on a bad corpus: expected one 'weave: error' line naming {bad}, got {errors}")
    if os.path.exists(os.path.join(tmp, "out")) and os.listdir(os.path.join(tmp, "out")):
        e2e.fail(f"a job on a bad corpus left outputs: {os.listdir(os.path.join(tmp, 'out'))}")
    print(f"ok: failure: job {job} FAILED with ExitCode 2:0: {errors[0]}")

    # The GPU kNN script's plumbing (arguments, srun, exit status): on a bad corpus it fails the same
    # way with or without a GPU (here: either the corpus or the missing GPU is named).
    job = slurm.sbatch(["--ntasks=2", os.path.join(JOBS, "slurm_knn_gpu.sbatch"), bad, os.path.join(tmp, "knn.h5")],
                       env=job_env(), cwd=tmp)
    output = os.path.join(tmp, f"weave-knn-{job}.out")
    expect_state(slurm.wait(job), "FAILED", "2:0", "the GPU kNN job on a bad corpus", output)
    errors = [l for l in read(output).splitlines() if l.startswith("weave: error")]
    if len(errors) != 1 or os.path.exists(os.path.join(tmp, "knn.h5")):
        e2e.fail(f"the GPU kNN job on a bad corpus: expected one 'weave: error' line and no knn.h5, got {errors}")
    print(f"ok: failure: GPU kNN job {job} FAILED with ExitCode 2:0: {errors[0]}")


CASES = {"pipeline": case_pipeline, "resume": case_resume, "array": case_array, "failure": case_failure}


def main():
    if len(sys.argv) != 2 or sys.argv[1] not in CASES:
        sys.exit(f"usage: {sys.argv[0]} {{{','.join(CASES)}}}")
    if not WEAVE or not os.access(WEAVE, os.X_OK):
        e2e.fail(f"the weave program {e2e.WEAVE!r} is not executable (set WEAVE)")
    # ctest's timeout (SIGTERM) still stops the daemons: the with-block's exit runs.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("slurm_jobs: terminated"))
    tmp = tempfile.mkdtemp(prefix=f"weave-slurm-{sys.argv[1]}-")
    slurm = None
    try:
        slurm = PrivateSlurm(cpus=4, max_array_size=3)
        with slurm:
            CASES[sys.argv[1]](slurm, tmp)
    except SlurmUnavailable as e:
        e2e.fail(str(e))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        left = slurm.leftovers() if slurm else []
        if left:
            e2e.fail(f"the private Slurm left {left} behind")
    print(f"ok: {sys.argv[1]}: every daemon stopped, its folder removed")


if __name__ == "__main__":
    main()
