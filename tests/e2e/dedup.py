"""`weave dedup` end to end: a corpus with planted duplicate groups (exact and perturbed copies, sizes
2..8), its kNN graph from `weave knn`, then
  - dedup.h5 identical at 1, 2, 3, 5 ranks and equal to an independent oracle (numpy + union-find
    over knn.h5 read with h5py: edges >= threshold, groups, the longest document kept, ties lowest id);
  - every planted group found whole (k = 10 > the largest group);
  - `weave order --dedup` a permutation of exactly the kept documents (identical at 1, 2, 3 ranks),
    `weave pack --dedup` leaves exactly the removed documents out, from that order or a full one;
  - `weave run` with [dedup] enabled runs the stage between knn and order and skips it when up to date;
  - `weave inspect dedup.h5` prints the summary;
  - bad input: --threshold outside (-1, 1], a dedup file of another corpus -> exit 2, one message."""
import json
import os

import h5py
import numpy as np

import weave_e2e as e2e

THRESHOLD = 0.97
K = 10


def make_corpus(path, seed=5):
    """Distinct random documents plus planted groups: an original and 1..7 copies, each copy exact
    or perturbed (cosine ~0.995 to the original), scattered over the corpus. Returns the groups."""
    rng = np.random.default_rng(seed)
    dim, distinct = 24, 1500
    rows = list(rng.standard_normal((distinct, dim)).astype(np.float32))
    groups = []
    for g in range(60):
        original = int(rng.integers(0, distinct))
        members = [original]
        for c in range(int(rng.integers(1, 8))):
            x = rows[original].copy()
            if c % 2 == 1:  # perturbed copy
                x = x + 0.1 * np.linalg.norm(x) / np.sqrt(dim) * rng.standard_normal(dim).astype(np.float32)
            rows.append(x.astype(np.float32))
            members.append(len(rows) - 1)
        groups.append(members)
    emb = np.stack(rows)
    perm = rng.permutation(len(emb))  # scatter: copies land on other ranks than their originals
    inverse = np.empty_like(perm)
    inverse[perm] = np.arange(len(perm))
    emb = emb[perm]
    groups = [sorted(int(inverse[m]) for m in g) for g in groups]
    lengths = rng.integers(10, 400, len(emb)).astype(np.int64)
    lengths[rng.integers(0, len(emb), 200)] = 100  # ties in length
    with h5py.File(path, "w") as f:
        f["embeddings"] = emb
        f["lengths"] = lengths
        f["doc_ids"] = 1000 + 7 * np.arange(len(emb), dtype=np.int64)  # the largest groups name them too
    return groups


def oracle(knn_path, corpus_path, threshold, keep="longest"):
    with h5py.File(knn_path, "r") as f:
        nbr, sim = f["neighbors"][:], f["similarities"][:]
    with h5py.File(corpus_path, "r") as f:
        lengths = f["lengths"][:]
    n = len(nbr)
    up = np.arange(n)

    def find(x):
        while up[x] != x:
            up[x] = up[up[x]]
            x = up[x]
        return x

    us, js = np.nonzero((nbr >= 0) & (sim.astype(np.float64) >= threshold))
    for u, v in zip(us, nbr[us, js]):
        a, b = find(u), find(v)
        if a != b:
            up[max(a, b)] = min(a, b)
    roots = np.array([find(x) for x in range(n)])
    rep = np.empty(n, np.int64)
    size = np.empty(n, np.int64)
    for r in np.unique(roots):
        members = np.nonzero(roots == r)[0]
        if keep == "longest":
            best = members[np.lexsort((members, -lengths[members]))[0]]
        else:
            best = members.min()
        rep[members] = best
        size[members] = len(members)
    return rep, size, lengths


with e2e.scratch() as tmp:
    corpus = os.path.join(tmp, "corpus.h5")
    groups = make_corpus(corpus)
    knn = os.path.join(tmp, "knn.h5")
    e2e.expect_ok(e2e.run(2, "knn", "--corpus", corpus, "--k", K, "--out", knn, "--quiet"), "knn")

    # dedup at every rank count, against the oracle.
    rep, size, lengths = oracle(knn, corpus, THRESHOLD)
    first = None
    for ranks in (1, 2, 3, 5):
        out = os.path.join(tmp, f"dedup{ranks}.h5")
        e2e.expect_ok(e2e.run(ranks, "dedup", "--knn", knn, "--corpus", corpus, "--threshold", THRESHOLD,
                              "--out", out, "--quiet"), f"dedup at {ranks} ranks")
        with h5py.File(out, "r") as f:
            got = (f["kept"][:], f["representative"][:], f["group_size"][:])
            attrs = dict(f.attrs)
        if not np.array_equal(got[1], rep) or not np.array_equal(got[2], size):
            bad = np.nonzero((got[1] != rep) | (got[2] != size))[0][:5]
            e2e.fail(f"dedup at {ranks} ranks differs from the union-find oracle at rows {bad}")
        if not np.array_equal(got[0], (rep == np.arange(len(rep))).astype(np.uint8)):
            e2e.fail(f"dedup at {ranks} ranks: /kept is not (representative == self)")
        removed = rep != np.arange(len(rep))
        if attrs["removed_documents"] != removed.sum() or attrs["removed_tokens"] != lengths[removed].sum() \
                or attrs["groups"] != len(np.unique(rep[size > 1])):
            e2e.fail(f"dedup at {ranks} ranks: attributes {attrs} disagree with the oracle")
        for g in json.loads(attrs["largest_groups"]):
            if g["first_members_doc_ids"] != [1000 + 7 * m for m in g["first_members"]]:
                e2e.fail(f"dedup at {ranks} ranks: largest group {g}: first_members_doc_ids are not their /doc_ids")
        first = first or got
        if not all(np.array_equal(a, b) for a, b in zip(first, got)):
            e2e.fail(f"dedup at {ranks} ranks differs from 1 rank")
    print(f"ok: dedup identical at 1, 2, 3, 5 ranks and equal to the union-find oracle "
          f"({int(removed.sum())} removed in {int(attrs['groups'])} groups)")
    rep_first, _, _ = oracle(knn, corpus, THRESHOLD, keep="first")
    e2e.expect_ok(e2e.run(3, "dedup", "--knn", knn, "--corpus", corpus, "--threshold", THRESHOLD, "--keep", "first",
                          "--out", os.path.join(tmp, "first.h5"), "--quiet"), "dedup --keep first")
    with h5py.File(os.path.join(tmp, "first.h5"), "r") as f:
        if not np.array_equal(f["representative"][:], rep_first):
            e2e.fail("dedup --keep first differs from the oracle (lowest id per group)")
    print("ok: --keep first keeps each group's lowest id")

    # Every planted group is one group (its members share a representative).
    missed = [g for g in groups if len(set(rep[g])) != 1]
    if missed:
        e2e.fail(f"{len(missed)} of {len(groups)} planted groups not found whole, e.g. {missed[0]} -> {rep[missed[0]]}")
    print(f"ok: all {len(groups)} planted groups (sizes 2..8, exact and perturbed copies) found whole")

    # order and pack leave the removed documents out.
    dedup = os.path.join(tmp, "dedup2.h5")
    kept_ids = np.nonzero(rep == np.arange(len(rep)))[0]
    orders = []
    for ranks in (1, 2, 3):
        out = os.path.join(tmp, f"order{ranks}.h5")
        e2e.expect_ok(e2e.run(ranks, "order", "--knn", knn, "--corpus", corpus, "--dedup", dedup, "--out", out,
                              "--quiet"), f"order --dedup at {ranks} ranks")
        with h5py.File(out, "r") as f:
            orders.append(f["order"][:])
    if not np.array_equal(np.sort(orders[0]), kept_ids) or not all(np.array_equal(orders[0], o) for o in orders):
        e2e.fail("order --dedup: not a permutation of the kept documents, or not identical at 1, 2, 3 ranks")
    print(f"ok: order --dedup is a permutation of the {len(kept_ids)} kept documents at 1, 2, 3 ranks")
    full = os.path.join(tmp, "full_order.h5")
    e2e.expect_ok(e2e.run(2, "order", "--knn", knn, "--corpus", corpus, "--out", full, "--quiet"), "order")
    for name, order in (("deduplicated order", os.path.join(tmp, "order2.h5")), ("full order", full)):
        for ranks in (1, 3):
            out = os.path.join(tmp, f"contexts-{ranks}-{os.path.basename(order)}")
            e2e.expect_ok(e2e.run(ranks, "pack", "--order", order, "--corpus", corpus, "--dedup", dedup,
                                  "--context-length", 1024, "--tail", "pad", "--out", out, "--quiet"),
                          f"pack --dedup of the {name} at {ranks} ranks")
            with h5py.File(out, "r") as f:
                docs = np.unique(f["segments/doc_id"][:])
                streamed = f.attrs["total_stream_documents"]
            if not np.array_equal(docs, kept_ids) or streamed != len(kept_ids):
                e2e.fail(f"pack --dedup of the {name}: {len(docs)} documents in the contexts, expected the "
                         f"{len(kept_ids)} kept ones")
    print("ok: pack --dedup holds exactly the kept documents, from the deduplicated and from a full order")

    # Bad input: one message, exit 2 on every rank, no output.
    for threshold in ("1.5", "-1"):
        e2e.run_expecting_user_error(2, ["dedup", "--knn", knn, "--corpus", corpus, "--threshold", threshold,
                                         "--out", os.path.join(tmp, "bad.h5")],
                                     ["--threshold", "(-1, 1]"], f"--threshold {threshold}")
    other = os.path.join(tmp, "other.h5")
    make_corpus(other)  # the same embeddings, other lengths: same size, another fingerprint
    with h5py.File(other, "r+") as f:
        f["lengths"][...] = f["lengths"][:] + 1
    e2e.run_expecting_user_error(2, ["order", "--knn", knn, "--corpus", corpus, "--dedup", os.path.join(tmp, "x.h5"),
                                     "--out", os.path.join(tmp, "bad.h5")], ["x.h5"], "a missing dedup file")
    other_knn = os.path.join(tmp, "other_knn.h5")
    e2e.expect_ok(e2e.run(2, "knn", "--corpus", other, "--k", K, "--out", other_knn, "--quiet"), "knn of the other corpus")
    other_dedup = os.path.join(tmp, "other_dedup.h5")
    e2e.expect_ok(e2e.run(2, "dedup", "--knn", other_knn, "--corpus", other, "--out", other_dedup, "--quiet"),
                  "dedup of the other corpus")
    e2e.run_expecting_user_error(2, ["pack", "--order", full, "--corpus", corpus, "--dedup", other_dedup,
                                     "--context-length", 1024, "--out", os.path.join(tmp, "bad.h5")],
                                 [other_dedup], "pack --dedup of another corpus")
    e2e.run_expecting_user_error(2, ["dedup", "--knn", other_knn, "--corpus", corpus, "--out",
                                     os.path.join(tmp, "bad.h5")], [other_knn], "dedup of another corpus's knn.h5")
    e2e.run_expecting_user_error(2, ["pack", "--order", os.path.join(tmp, "order2.h5"), "--corpus", corpus,
                                     "--context-length", 1024, "--out", os.path.join(tmp, "bad.h5")],
                                 ["--dedup", dedup], "pack of a deduplicated order without --dedup")
    if os.path.exists(os.path.join(tmp, "bad.h5")):
        e2e.fail("a failed command left bad.h5")

    # inspect
    r = e2e.run(2, "inspect", dedup, "--quiet")
    e2e.expect_ok(r, "inspect dedup.h5")
    for fragment in ("dedup file", "removed_documents", "group_size_histogram", "largest_groups"):
        if fragment not in r.stdout:
            e2e.fail(f"inspect dedup.h5 lacks {fragment!r}:\n{r.stdout}")
    print("ok: inspect dedup.h5")

    # weave run with [dedup]
    cfg = os.path.join(tmp, "run.toml")
    with open(cfg, "w") as f:
        f.write(f'out_dir = "{tmp}/run"\n[corpus]\npath = "{corpus}"\n[knn]\nk = {K}\n'
                f'[dedup]\nenabled = true\nthreshold = {THRESHOLD}\n[pack]\ncontext_length = [1024]\n')
    r = e2e.run(2, "run", cfg)
    e2e.expect_ok(r, "weave run with [dedup]")
    stages = [l for l in r.stdout.splitlines() if l.startswith("[run] ") and "running" in l]
    if stages != ["[run] knn: running", "[run] dedup: running", "[run] order: running", "[run] pack: running"]:
        e2e.fail(f"weave run with [dedup]: stages {stages}")
    with h5py.File(f"{tmp}/run/order.h5", "r") as f:
        if not np.array_equal(np.sort(f["order"][:]), kept_ids):
            e2e.fail("weave run with [dedup]: the order is not the kept documents")
    r = e2e.run(3, "run", cfg)
    e2e.expect_ok(r, "weave run with [dedup], again")
    if "[run] dedup: up to date" not in r.stdout:
        e2e.fail(f"weave run again: dedup not skipped\n{r.stdout}")
    print("ok: weave run runs dedup between knn and order, skips it when up to date")
