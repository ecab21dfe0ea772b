#!/usr/bin/python3
"""Builds a real-text Weave corpus that no one here wrote: the English manual pages installed on this
machine (/usr/share/man/man[1-8]), one document per section (.SH) of a page, embedded with TF-IDF +
truncated SVD (scikit-learn from Debian: apt-get install python3-sklearn), rows L2-normalised.

Writes an HDF5 corpus (docs/format.md): /embeddings float32 [N, dim], /lengths (words of the
section), /topics (the page the section comes from, so `weave inspect` and `weave order` report how
often neighbours come from the same page), /doc_ids (N sequential ids). Deterministic for a given
set of installed pages (files sorted by path, SVD with a fixed seed).

The pages are full of boilerplate (the 13,000 "GCLOUD WIDE FLAGS" sections of google-cloud-cli's
pages are one text): kept by default, since real corpora have it too; --drop-repeated keeps only the
first section of each text.

Usage: benchmarks/make_text_corpus.py OUT.h5 [--dim 256] [--max-docs 0] [--min-words 20] [--drop-repeated]"""
import argparse
import gzip
import os
import re
import sys

import h5py
import numpy as np

ESCAPES = re.compile(r"\\f[BIRPC]|\\f\(..|\\f\[[^]]*\]|\\\(..|\\\[[^]]*\]|\\\*\(..|\\\*.|\\s[-+]?\d|\\.")
WORD = re.compile(r"[A-Za-z][A-Za-z0-9_]+")


def page_sections(text):
    """(heading, words) for each .SH section of a roff page."""
    sections, heading, words = [], None, []
    for line in text.splitlines():
        if line.startswith(('.\\"', "'\\\"")):
            continue
        if line.startswith((".SH", ".Sh")):
            if heading is not None:
                sections.append((heading, words))
            heading, words = line[3:].strip().strip('"'), []
            continue
        if line.startswith((".", "'")):
            line = line[1:].split(None, 1)[1] if len(line[1:].split(None, 1)) > 1 else ""
        words.extend(WORD.findall(ESCAPES.sub(" ", line)))
    if heading is not None:
        sections.append((heading, words))
    return sections


def read_pages(root="/usr/share/man"):
    paths = []
    for section in sorted(os.listdir(root)):
        if re.fullmatch(r"man[1-8]", section):
            folder = os.path.join(root, section)
            paths += [os.path.join(folder, f) for f in sorted(os.listdir(folder))]
    for path in paths:
        if os.path.islink(path) or not path.endswith(".gz"):
            continue  # links are other names of pages already read
        try:
            with gzip.open(path, "rt", encoding="utf-8", errors="replace") as f:
                yield path, f.read()
        except (OSError, EOFError):
            continue


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--dim", type=int, default=256)
    ap.add_argument("--max-docs", type=int, default=0, help="keep the first N documents (0 = all)")
    ap.add_argument("--min-words", type=int, default=20, help="skip sections with fewer words")
    ap.add_argument("--drop-repeated", action="store_true", help="keep only the first section of each text")
    args = ap.parse_args()
    try:
        from sklearn.decomposition import TruncatedSVD
        from sklearn.feature_extraction.text import TfidfVectorizer
    except ImportError:
        sys.exit("needs scikit-learn from Debian: apt-get install python3-sklearn")

    texts, topics, seen = [], [], set()
    for page, (path, text) in enumerate(read_pages()):
        for heading, words in page_sections(text):
            joined = " ".join(words)
            if len(words) >= args.min_words and not (args.drop_repeated and joined in seen):
                seen.add(joined)
                texts.append(joined)
                topics.append(page)
        if args.max_docs and len(texts) >= args.max_docs:
            break
    if args.max_docs:
        texts, topics = texts[:args.max_docs], topics[:args.max_docs]
    print(f"{len(texts)} sections from {len(set(topics))} manual pages", flush=True)
    tfidf = TfidfVectorizer(min_df=2, max_df=0.5, sublinear_tf=True, dtype=np.float32).fit_transform(texts)
    emb = TruncatedSVD(n_components=args.dim, random_state=0).fit_transform(tfidf).astype(np.float32)
    norms = np.linalg.norm(emb, axis=1, keepdims=True)
    keep = norms[:, 0] > 0
    emb = emb[keep] / norms[keep]
    lengths = np.array([len(t.split()) for t in texts], dtype=np.int64)[keep]
    topics = np.array(topics, dtype=np.int32)[keep]
    tmp = args.out + ".tmp"
    with h5py.File(tmp, "w") as f:
        f["embeddings"] = emb
        f["lengths"] = lengths
        f["topics"] = topics
        f["doc_ids"] = np.arange(len(emb), dtype=np.int64)
    os.replace(tmp, args.out)
    print(f"wrote {args.out}: {len(emb)} documents x {args.dim} (TF-IDF {tfidf.shape[1]} terms + SVD)")


if __name__ == "__main__":
    main()
