#!/usr/bin/python3
"""The token copy of `weave pack --dataset` (issue 16) against the machine's sequential read rate,
in one run: a token store of the corpus's lengths (uint16, written here with numpy), then `weave
pack --tokens --dataset` on RANKS ranks, timed by its report (stage dataset_L: reading contexts.h5,
the owners' pointers, the positioned reads of every segment, writing the .bin/.idx), and `dd` of
the store's .bin to /dev/null (the same bytes, sequentially) and to a new file (a sequential copy:
read and write). All read through the page cache the first run warmed; prints tokens per second per
rank and the ratios, the stage split into reading and writing (report counters).

With --cold the store is evicted from the page cache (posix_fadvise DONTNEED, after a sync) before the
dd read and before weave's run, so both read it from the disk: the machine's sequential read rate,
which a store of terabytes gets, instead of the page cache's copy rate.

Usage: benchmarks/dataset_copy.py --corpus C.h5 --order O.h5 [--ranks 2] [--context-length 8192] [--cold]
(run from the repository root after scripts/build.sh; e.g. the generated 1M graph of
docs/benchmarks.md: order_graph_gen 1000000 10 1000 32 g1m, then weave order)."""
import argparse
import json
import os
import re
import struct
import subprocess
import tempfile
import time

import h5py
import numpy as np

from bench_common import WEAVE, run


def write_store(prefix, lengths, rng):
    """The Megatron layout (docs/format.md), vectorised: one uint16 sequence per row."""
    s = len(lengths)
    pointers = np.concatenate([[0], np.cumsum(lengths * 2)[:-1]]).astype(np.int64)
    with open(prefix + ".idx", "wb") as f:
        f.write(b"MMIDIDX\x00\x00" + struct.pack("<QBQQ", 1, 8, s, s + 1))
        f.write(lengths.astype(np.int32).tobytes())
        f.write(pointers.tobytes())
        f.write(np.arange(s + 1, dtype=np.int64).tobytes())
    rng.integers(0, 65000, size=int(lengths.sum()), dtype=np.uint16).tofile(prefix + ".bin")


def evict(path):
    """Drops a file's pages from the page cache (its dirty pages written first)."""
    os.sync()
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--order", required=True)
    ap.add_argument("--ranks", type=int, default=2)
    ap.add_argument("--context-length", type=int, default=8192)
    ap.add_argument("--cold", action="store_true", help="read the store from the disk, not the page cache")
    args = ap.parse_args()
    L = args.context_length
    with tempfile.TemporaryDirectory(prefix="weave-dataset-") as tmp:
        with h5py.File(args.corpus, "r") as f:
            lengths = f["lengths"][:].astype(np.int64)
        store = os.path.join(tmp, "tokens")
        write_store(store, lengths, np.random.default_rng(1))
        bin_bytes = os.path.getsize(store + ".bin")
        mpirun = ["mpirun", "-n", args.ranks, "--bind-to", "none"]
        env = {"OMPI_MCA_mpi_yield_when_idle": "0"}
        cmd = mpirun + [WEAVE, "pack", "--corpus", args.corpus, "--order", args.order, "--context-length", L,
                        "--out", os.path.join(tmp, "c.h5"), "--tokens", store, "--dataset", os.path.join(tmp, "ds"),
                        "--eod-id", 0, "--quiet", "--report", os.path.join(tmp, "r.json")]
        run(cmd, env)  # warms the page cache (and checks it runs)
        subprocess.run(["dd", f"if={store}.bin", "of=/dev/null", "bs=16M"], capture_output=True)
        if args.cold:
            evict(store + ".bin")
        t0 = time.perf_counter()
        dd = subprocess.run(["dd", f"if={store}.bin", "of=/dev/null", "bs=16M"], capture_output=True, text=True)
        dd_s = time.perf_counter() - t0
        copy = os.path.join(tmp, "dd_copy.bin")  # the same bytes read and written to a new file, sequentially
        t0 = time.perf_counter()
        subprocess.run(["dd", f"if={store}.bin", f"of={copy}", "bs=16M"], capture_output=True)
        dd_copy_s = time.perf_counter() - t0
        os.remove(copy)
        for f in ("ds.bin", "ds.idx"):  # weave writes new files too
            os.remove(os.path.join(tmp, f))
        if args.cold:
            evict(store + ".bin")
        run(cmd, env)
        rep = json.load(open(os.path.join(tmp, "r.json")))
        stage_record = next(s for s in rep["stages"] if s["stage"] == f"dataset_{L}")
        stage = stage_record["wall_seconds"]["max"]
        copied = rep["counters"]["tokens_copied"]["total"]
        out_tokens = os.path.getsize(os.path.join(tmp, "ds.bin")) // 2
        print(f"store: {len(lengths)} sequences, {bin_bytes / 2**30:.2f} GiB; dataset: {out_tokens} tokens "
              f"({copied:.0f} copied from the store) in contexts of {L}")
        print(f"dd of the store's .bin ({'disk' if args.cold else 'page cache'}): {dd_s:.2f} s, {bin_bytes / dd_s / 2**30:.2f} GiB/s "
              f"({re.findall(r'[0-9.]+ [GM]B/s', dd.stderr)})")
        rate = copied / stage / args.ranks
        print(f"weave pack dataset stage, {args.ranks} ranks: {stage:.2f} s (max over ranks), "
              f"{rate / 1e6:.1f}M tokens/s per rank, {copied * 2 / stage / 2**30:.2f} GiB/s in all")
        cnt = rep["counters"]
        read_s = cnt[f"dataset_{L}_read_seconds"]["max"]
        write_s = cnt[f"dataset_{L}_write_seconds"]["max"]
        print(f"  of which reading (contexts, pointers, the store's tokens) {read_s:.2f} s, writing .bin/.idx "
              f"{write_s:.2f} s (max over ranks; the time spent waiting for writes that reading did not overlap)")
        print(f"  peak memory per rank after the stage: {stage_record['peak_memory_bytes']['max'] / 2**20:.0f} MiB")
        print(f"dd copy of the store's .bin to a new file: {dd_copy_s:.2f} s, {bin_bytes / dd_copy_s / 2**30:.2f} GiB/s")
        print(f"ratio to dd read (bytes per second, all ranks): {copied * 2 / stage / (bin_bytes / dd_s):.2f}; "
              f"reading alone: {copied * 2 / read_s / (bin_bytes / dd_s):.2f}; "
              f"to dd copy: {copied * 2 / stage / (bin_bytes / dd_copy_s):.2f}")


if __name__ == "__main__":
    main()
