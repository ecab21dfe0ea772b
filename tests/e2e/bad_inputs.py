"""Every bad corpus input gets a one-line error naming file, dataset and row, exit status 2 on every
rank, no hang, and no output. Usage: bad_inputs.py CASE (ctest registers one test per case)."""
import os
import sys

import h5py
import numpy as np

import weave_e2e as e2e

RANKS = 2


def good(n=12, d=4, seed=0):
    rng = np.random.default_rng(seed)
    return {
        "embeddings": rng.standard_normal((n, d)).astype(np.float32),
        "lengths": rng.integers(1, 500, n).astype(np.int32),
        "doc_ids": np.arange(100, 100 + n, dtype=np.int64),
    }


def write(path, datasets, attrs=None):
    with h5py.File(path, "w") as f:
        for name, value in datasets.items():
            f[name] = value
        for (obj, name), value in (attrs or {}).items():
            f[obj].attrs[name] = value
    return path


def case_corpus(case, tmp):
    """Builds the bad input; returns (corpus path, fragments the message must contain)."""
    p = lambda name: os.path.join(tmp, name)
    c = good()
    if case == "missing_embeddings":
        del c["embeddings"]
        return write(p("c.h5"), c), ["c.h5", "missing dataset /embeddings"]
    if case == "missing_lengths":
        del c["lengths"]
        return write(p("c.h5"), c), ["c.h5", "missing dataset /lengths"]
    if case == "row_mismatch":
        c["lengths"] = c["lengths"][:-1]
        return write(p("c.h5"), c), ["c.h5", "/lengths has 11 rows", "/embeddings has 12"]
    if case == "dim_mismatch":
        write(p("a.h5"), good())
        write(p("b.h5"), good(d=5))
        with open(p("m.txt"), "w") as f:
            f.write("a.h5\nb.h5\n")
        return p("m.txt"), ["b.h5", "/embeddings has dimension 5", "a.h5 has 4"]
    if case == "nan_embedding":
        c["embeddings"][9, 1] = np.nan
        return write(p("c.h5"), c), ["c.h5", "/embeddings row 9", "non-finite"]
    if case == "inf_embedding":
        c["embeddings"][7, 0] = -np.inf
        c["embeddings"][11, 0] = np.inf
        return write(p("c.h5"), c), ["c.h5", "/embeddings row 7", "non-finite"]
    if case == "zero_vector":
        c["embeddings"][10, :] = 0
        return write(p("c.h5"), c), ["c.h5", "/embeddings row 10", "all zeros", "--on-zero-vector"]
    if case == "nonpositive_length":
        c["lengths"][8] = 0
        return write(p("c.h5"), c), ["c.h5", "/lengths row 8", "not positive"]
    if case == "duplicate_doc_ids":
        c["doc_ids"][11] = c["doc_ids"][2]
        return write(p("c.h5"), c), ["c.h5", "/doc_ids row 11", "duplicate doc id 102", "row 2"]
    if case == "not_hdf5":
        with open(p("c.h5"), "wb") as f:
            f.write(bytes(range(256)) * 8)
        return p("c.h5"), ["c.h5", "not an HDF5 file"]
    if case == "truncated_hdf5":
        write(p("full.h5"), good(n=2000, d=64))
        data = open(p("full.h5"), "rb").read()
        with open(p("c.h5"), "wb") as f:
            f.write(data[: len(data) // 3])
        return p("c.h5"), ["c.h5"]
    if case == "missing_file":
        return p("nowhere.h5"), ["nowhere.h5", "no such file"]
    if case == "empty_corpus":
        c = {k: v[:0] for k, v in c.items()}
        return write(p("c.h5"), c), ["c.h5", "no documents"]
    if case == "empty_manifest":
        with open(p("m.txt"), "w") as f:
            f.write("# nothing here\n\n")
        return p("m.txt"), ["m.txt", "no shard files"]
    if case == "fewer_docs_than_ranks":
        c = {k: v[:1] for k, v in c.items()}
        return write(p("c.h5"), c), ["c.h5", "has 1 document,", "fewer than the 2 ranks"]
    if case == "manifest_missing_shard":
        write(p("a.h5"), good())
        with open(p("m.txt"), "w") as f:
            f.write("a.h5\n\nshards/b.h5\n")
        return p("m.txt"), ["m.txt", "line 3", "b.h5", "no such file"]
    if case == "uint16_without_dtype":
        c["embeddings"] = np.zeros((12, 4), dtype=np.uint16) + 3
        return write(p("c.h5"), c), ["c.h5", "/embeddings is uint16", 'dtype="bfloat16"']
    if case == "string_embeddings":
        c["embeddings"] = np.array([b"abc"] * 12)
        return write(p("c.h5"), c), ["c.h5", "/embeddings has 1 dimensions"]
    if case == "optional_dataset_in_one_shard":
        write(p("a.h5"), good())
        b = good(seed=1)
        b["doc_ids"] = b["doc_ids"] + 1000
        b["sources"] = np.zeros(12, dtype=np.int32)
        write(p("b.h5"), b)
        with open(p("m.txt"), "w") as f:
            f.write("a.h5\nb.h5\n")
        return p("m.txt"), ["b.h5", "/sources is present here but missing in", "a.h5"]
    if case == "text_named_h5":
        # A manifest-like text file named .h5 is not taken for a manifest (its error blamed "line 1").
        with open(p("c.h5"), "w") as f:
            f.write("a.h5\n")
        return p("c.h5"), ["c.h5", "not an HDF5 file"]
    e2e.fail(f"unknown case {case}")


def main():
    case = sys.argv[1]
    with e2e.scratch() as tmp:
        corpus, fragments = case_corpus(case, tmp)
        report = os.path.join(tmp, "report.json")
        before = set(os.listdir(tmp))
        e2e.run_expecting_user_error(RANKS, ["inspect", corpus, "--report", report], fragments, f"inspect {case}")
        after = set(os.listdir(tmp))
        if after != before:
            e2e.fail(f"{case}: the failed run left files behind: {sorted(after - before)}")


if __name__ == "__main__":
    main()
