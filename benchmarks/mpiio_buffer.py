#!/usr/bin/python3
"""The MPI-IO collective-buffering size against rate and memory (mpi/file_hints.hpp): runs
benchmarks/mpiio_buffer (collective write, read and scattered single-row reads through Weave's HDF5
layer, and plain POSIX I/O of the same bytes as the baseline) with Weave's own hint and with Open
MPI's buffer forced through OMPI_MCA_io_ompio_bytes_per_agg (which makes Weave leave the size to
the MPI), alternating the settings --rounds times; prints each setting's median times, rates,
ratios to Weave's hint and the peak memory per rank. --other-build adds the same benchmark of
another build (e.g. a checkout before a change to the HDF5 layer) to the alternation.

Usage: /usr/bin/python3 benchmarks/mpiio_buffer.py [--ranks 2,8] [--rows-per-rank 1048576] [--cols 64]
       [--scattered 20000] [--rounds 3] [--sizes 1048576,33554432] [--dir /tmp] [--other-build DIR]"""
import argparse
import os
import statistics
import tempfile

from bench_common import BUILD, result_line, run

BINARY = os.path.join(BUILD, "benchmarks", "mpiio_buffer")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ranks", default="2,8")
    ap.add_argument("--rows-per-rank", type=int, default=1 << 20)
    ap.add_argument("--cols", type=int, default=64)
    ap.add_argument("--scattered", type=int, default=20000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--sizes", default="1048576,33554432", help="Open MPI buffer sizes to compare (bytes)")
    ap.add_argument("--dir", default=tempfile.gettempdir())
    ap.add_argument("--other-build", help="a build folder whose benchmarks/mpiio_buffer runs too, with its own hint")
    args = ap.parse_args()
    settings = [("weave hint", {}, BINARY)] + [(f"ompio {int(b) >> 20} MiB", {"OMPI_MCA_io_ompio_bytes_per_agg": b}, BINARY)
                                               for b in args.sizes.split(",")]
    if args.other_build:
        settings.append(("other build", {}, os.path.join(args.other_build, "benchmarks", "mpiio_buffer")))
    for p in (int(x) for x in args.ranks.split(",")):
        rows = args.rows_per_rank
        results = {name: [] for name, _, _ in settings}
        with tempfile.TemporaryDirectory(prefix="weave-mpiio-", dir=args.dir) as tmp:
            for _ in range(args.rounds):
                for name, env, binary in settings:
                    out, _ = run(["mpirun", "-n", p, "--bind-to", "none", binary, tmp, rows, args.cols, args.scattered],
                                 dict(env, OMPI_MCA_mpi_yield_when_idle="1" if p > 2 else "0"))
                    results[name].append({k: float(v) for k, v in result_line(out).items()})
        gb = results[settings[0][0]][0]["gb"]
        print(f"P = {p}, {rows} rows x {args.cols} floats per rank ({gb:.2f} GB), {args.scattered} scattered rows "
              f"per rank; medians of {args.rounds} alternating rounds (best of 3 inside each)")
        base = {k: statistics.median(r[k] for r in results[settings[0][0]]) for k in ("write_s", "read_s", "scattered_s")}
        for name, _, _ in settings:
            m = {k: statistics.median(r[k] for r in results[name]) for k in results[name][0]}
            reported = {k: f"{int(m[k]) >> 20} MiB" if m[k] > 0 else "MPI's own" for k in ("write_buffer", "read_buffer")}
            print(f"  {name:14s} (reports {reported['write_buffer']} written, {reported['read_buffer']} read) write {m['write_s']:.3f} s {gb / m['write_s']:5.2f} GB/s "
                  f"(posix {gb / m['posix_write_s']:5.2f}) read {m['read_s']:.3f} s {gb / m['read_s']:5.2f} GB/s "
                  f"(posix {gb / m['posix_read_s']:5.2f}) scattered {m['scattered_s']:.3f} s; time / hint's: write "
                  f"{m['write_s'] / base['write_s']:.2f} read {m['read_s'] / base['read_s']:.2f} scattered "
                  f"{m['scattered_s'] / base['scattered_s']:.2f}; peak {m['peak_mib']:.1f} MiB", flush=True)


if __name__ == "__main__":
    main()
