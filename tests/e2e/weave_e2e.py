"""Shared helpers for the end-to-end tests: run the weave program under mpirun, check outcomes.

ctest sets WEAVE (the program) and MPIEXEC; the Open MPI root/oversubscribe settings come from the
test registration (cmake/WeaveTesting.cmake), so these scripts also run by hand after
`export WEAVE=build/release/src/weave MPIEXEC=mpirun`.
"""
import os
import subprocess
import sys
import tempfile

WEAVE = os.environ.get("WEAVE", "weave")
MPIEXEC = os.environ.get("MPIEXEC", "mpirun")
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OMPI_MCA_rmaps_base_oversubscribe="1", OMPI_MCA_mpi_yield_when_idle="1")
# mpirun normally kills the other ranks at the first non-zero exit; with this it lets every rank
# finish on its own, so a test can see each rank's own status (mpirun then returns 0).
LET_RANKS_FINISH = {"OMPI_MCA_orte_abort_on_non_zero_status": "0"}

# Each rank runs through this shell wrapper, which prints the rank's own exit status, so a test can
# check that *every* rank exited with the same status (mpirun itself reports only one).
RANK_WRAPPER = 'rc=0; "$0" "$@" || rc=$?; echo "weave-rank-exit=$rc" >&2; exit $rc'


class Result:
    def __init__(self, proc, ranks):
        self.returncode = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.rank_exits = [int(l.split("=", 1)[1]) for l in proc.stderr.splitlines() if l.startswith("weave-rank-exit=")]
        self.ranks = ranks

    def error_lines(self):
        return [l for l in self.stderr.splitlines() if l.startswith("weave: error")]


def run(ranks, *args, timeout=120, env=None):
    """Runs `weave ARGS` on `ranks` ranks; fails the test on a hang (timeout)."""
    cmd = [MPIEXEC, "-n", str(ranks), "sh", "-c", RANK_WRAPPER, WEAVE] + [str(a) for a in args]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=dict(ENV, **(env or {})))
    except subprocess.TimeoutExpired:
        fail(f"timed out after {timeout}s (hang?): {' '.join(cmd)}")
    return Result(proc, ranks)


def expect_ok(result, what):
    if result.returncode != 0:
        fail(f"{what}: exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}")


def run_expecting_user_error(ranks, args, fragments, what, env=None):
    """Runs twice: as a user would (mpirun exits 2, one 'weave: error:' line with every fragment),
    then letting every rank finish, to see that each rank itself exits with status 2."""
    expect_user_error(run(ranks, *args, env=env), fragments, what)
    each = run(ranks, *args, env=dict(env or {}, **LET_RANKS_FINISH))
    if sorted(each.rank_exits) != [2] * ranks:
        fail(f"{what}: rank exit statuses {each.rank_exits}, expected 2 on all {ranks} ranks\n{each.stderr}")


def expect_user_error(result, fragments, what):
    """mpirun exits 2; one 'weave: error:' line (printed once) containing every fragment."""
    problems = []
    if result.returncode != 2:
        problems.append(f"mpirun exit status {result.returncode}, expected 2")
    lines = result.error_lines()
    if len(lines) != 1:
        problems.append(f"{len(lines)} 'weave: error' lines, expected exactly 1")
    else:
        for f in fragments:
            if f not in lines[0]:
                problems.append(f"message lacks {f!r}")
    if problems:
        fail(f"{what}: " + "; ".join(problems) + f"\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}")
    print(f"ok: {what}: {lines[0]}")


def scratch():
    return tempfile.TemporaryDirectory(prefix="weave-e2e-")


def fail(message):
    print("FAIL: " + message, file=sys.stderr)
    sys.exit(1)
