"""`weave order` on exact duplicates (issue: stitching unbreakable by duplicates): corpora whose
documents are all identical (2,000 and 20,000) and one where half the documents copy an earlier one
exactly. Each orders at 1, 2, 3 (and 5) ranks into a permutation, identical at every rank count,
within a time limit that the old stitching (exact kNN among path ends, repeated) blew by far: it
aborted after 51 s on 2,000 identical documents and ran for more than 10 minutes on 10,000.

The kNN graphs come from `weave knn`, which is also checked here on ties: on identical documents
every list must be the k smallest other ids (the oracle below), within a time limit that the kNN
before identical rows were scored once blew (97 s for 50,000 x 128 at 2 ranks; now 0.4 s)."""
import os
import time

import h5py
import numpy as np

import weave_e2e as e2e

LIMIT_S = 60  # per run of `weave order`; the new stitching takes about a second here


def identical_knn(n, k):
    """Document i's neighbours among identical documents: 0..k-1, with i left out (j < i stays j,
    j >= i becomes j + 1)."""
    j = np.arange(k, dtype=np.int64)[None, :]
    i = np.arange(n, dtype=np.int64)[:, None]
    return np.where(j < i, j, j + 1)


def order_everywhere(tmp, name, corpus, knn, n, ranks_list):
    results = {}
    for ranks in ranks_list:
        out = os.path.join(tmp, f"{name}{ranks}.h5")
        t0 = time.monotonic()
        r = e2e.run(ranks, "order", "--knn", knn, "--corpus", corpus, "--out", out, "--quiet", timeout=LIMIT_S)
        seconds = time.monotonic() - t0
        e2e.expect_ok(r, f"{name}: order at {ranks} ranks")
        with h5py.File(out, "r") as f:
            results[ranks] = (f["order"][:], f["link_similarity"][:], float(f.attrs["mean_link_similarity"]))
        order = results[ranks][0]
        if not np.array_equal(np.sort(order), np.arange(n)):
            e2e.fail(f"{name}: the order at {ranks} ranks is not a permutation of the {n} documents")
        print(f"  {name}: {ranks} rank(s) {seconds:.1f} s, mean adjacent similarity {results[ranks][2]:.4f}")
    for ranks in ranks_list[1:]:
        for j, what in ((0, "order"), (1, "link_similarity")):
            if not np.array_equal(results[ranks_list[0]][j], results[ranks][j], equal_nan=True):
                e2e.fail(f"{name}: /{what} differs between {ranks_list[0]} and {ranks} ranks")
    print(f"ok: {name}: identical permutations at {ranks_list} ranks")
    return results[ranks_list[0]]


with e2e.scratch() as tmp:
    # All identical: one topic with no spread. Every link joins two equal documents.
    for n, ranks_list in ((2000, (1, 2, 3, 5)), (20000, (1, 2, 3))):
        corpus, knn = os.path.join(tmp, f"same{n}.h5"), os.path.join(tmp, f"same{n}_knn.h5")
        e2e.expect_ok(e2e.run(2, "synth", "--docs", n, "--dim", 16, "--topics", 1, "--topic-spread", 0,
                              "--duplicate-share", 0, "--out", corpus, "--quiet"), "synth identical")
        t0 = time.monotonic()
        e2e.expect_ok(e2e.run(2, "knn", "--corpus", corpus, "--k", 10, "--out", knn, "--quiet", timeout=LIMIT_S),
                      "knn identical")
        print(f"  identical-{n}: knn at 2 ranks {time.monotonic() - t0:.1f} s")
        with h5py.File(knn, "r") as f:
            if not np.array_equal(f["neighbors"][:], identical_knn(n, 10)):
                e2e.fail(f"identical-{n}: the kNN lists are not the 10 smallest other ids")
            sims = f["similarities"][:]
            if not np.all(sims == sims[0, 0]) or abs(sims[0, 0] - 1) > 1e-6:
                e2e.fail(f"identical-{n}: similarities between identical documents are not one value ~1")
        order, link, mean = order_everywhere(tmp, f"identical-{n}", corpus, knn, n, ranks_list)
        if not np.allclose(link[1:], 1.0, atol=1e-6):
            e2e.fail(f"identical-{n}: a link between identical documents has similarity {link[1:].min()}")

    # Half the documents are exact copies of earlier ones, the rest a clustered corpus.
    corpus, knn = os.path.join(tmp, "half.h5"), os.path.join(tmp, "half_knn.h5")
    e2e.expect_ok(e2e.run(2, "synth", "--docs", 5000, "--dim", 32, "--topics", 20, "--duplicate-share", 0.5,
                          "--duplicate-noise", 0, "--out", corpus, "--quiet"), "synth half duplicates")
    e2e.expect_ok(e2e.run(2, "knn", "--corpus", corpus, "--k", 10, "--out", knn, "--quiet"), "knn half duplicates")
    with h5py.File(corpus, "r") as f:
        x = f["embeddings"][:]
    copies = len(x) - len(np.unique(x, axis=0))
    assert copies >= 2000, f"the corpus should have ~2,500 exact copies, has {copies}"
    order, link, mean = order_everywhere(tmp, "half-duplicates", corpus, knn, 5000, (1, 2, 3, 5))
    # Every copy can sit next to its original: most links are between identical documents.
    share = np.mean(link[1:] > 0.99999)
    print(f"  half-duplicates: {share:.3f} of the links join identical documents ({copies} copies)")
    if share < 0.4:
        e2e.fail(f"half-duplicates: only {share:.3f} of the links join identical documents")
