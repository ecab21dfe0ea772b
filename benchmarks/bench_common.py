"""What the benchmark scripts share: where the build is, the environment for mpirun as root, running
a command (exit on failure, with its output) and reading a program's `RESULT key=value ...` line."""
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("WEAVE_BUILD", os.path.join(ROOT, "build", "release"))
WEAVE = os.path.join(BUILD, "src", "weave")
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OMPI_MCA_rmaps_base_oversubscribe="1", NCCL_NVLS_ENABLE="0")


def run(cmd, env=None):
    """Runs cmd (items made strings); returns (stdout, seconds). Exits the benchmark if it fails."""
    t0 = time.perf_counter()
    p = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, env=dict(ENV, **(env or {})))
    if p.returncode != 0:
        sys.exit(f"failed: {' '.join(map(str, cmd))}\n{p.stdout}\n{p.stderr}")
    return p.stdout, time.perf_counter() - t0


def result_line(text):
    """The key=value pairs of the first line starting with RESULT."""
    line = next(l for l in text.splitlines() if l.startswith("RESULT"))
    return dict(kv.split("=", 1) for kv in line.split()[1:])


def write_subset(src, dst, rows):
    """The first `rows` documents of a corpus file (embeddings and lengths) as a corpus of their own:
    exact kNN is timed on it and scaled by (N / rows)^2 where the whole corpus would take too long."""
    import h5py
    with h5py.File(src, "r") as f, h5py.File(dst, "w") as g:
        g["embeddings"] = f["embeddings"][:rows]
        g["lengths"] = f["lengths"][:rows]
