"""`weave inspect` on knn.h5, order.h5 and contexts.h5: the --json figures equal numpy's on the same
files, and do not depend on the rank count."""
import json
import os

import h5py
import numpy as np

import weave_e2e as e2e

with e2e.scratch() as tmp:
    out = os.path.join(tmp, "run")
    r = e2e.run(2, "run", "--set", f'out_dir="{out}"', "--set", "synth.docs=1200", "--set", "synth.dim=16",
                "--set", "pack.context_length=1024", "--quiet")
    e2e.expect_ok(r, "weave run")
    paths = {k: os.path.join(out, f"{k}.h5") for k in ("corpus", "knn", "order", "contexts")}
    got = {}
    for kind in ("knn", "order", "contexts"):
        extra = ["--corpus", paths["corpus"]] if kind == "contexts" else []
        runs = [json.loads(e2e.run(r, "inspect", paths[kind], "--json", *extra).stdout) for r in (1, 3)]
        assert runs[0] == runs[1], f"inspect {kind} differs between 1 and 3 ranks"
        assert runs[0]["kind"] == kind
        got[kind] = runs[0]

    with h5py.File(paths["knn"], "r") as f:
        ids, sims = f["neighbors"][:], f["similarities"][:]
    k = got["knn"]
    assert k["documents"] == 1200 and k["k"] == ids.shape[1]
    assert abs(k["mean_similarity_first_neighbor"] - sims[:, 0].mean()) < 1e-6
    indeg = np.bincount(ids.ravel(), minlength=1200)
    assert k["max_in_degree"] == indeg.max() and k["documents_never_a_neighbor"] == (indeg == 0).sum()

    with h5py.File(paths["order"], "r") as f:
        off, link = f["path_offsets"][:], f["link_similarity"][:]
    o = got["order"]
    assert o["paths"] == len(off) - 1 and o["longest_path"] == np.diff(off).max()
    assert abs(o["mean_link_similarity"] - np.nanmean(link)) < 1e-6 and o["is_permutation"]

    with h5py.File(paths["contexts"], "r") as f:
        nt, so = f["contexts/num_tokens"][:], f["contexts/segment_offsets"][:]
        doc, ln = f["segments/doc_id"][:], f["segments/length"][:]
    with h5py.File(paths["corpus"], "r") as f:
        topics = f["topics"][:]
    c = got["contexts"]
    assert c["contexts"] == len(nt) and c["tokens"] == nt.sum() and c["max_segments_per_context"] == np.diff(so).max()
    purity = np.mean([np.bincount(topics[doc[a:b]], weights=ln[a:b]).max() / n for a, b, n in zip(so[:-1], so[1:], nt)])
    assert abs(c["mean_topic_purity"] - purity) < 1e-9, (c["mean_topic_purity"], purity)
    print("ok: inspect knn/order/contexts match numpy, identical at 1 and 3 ranks")
