#!/usr/bin/env python3
"""Checks Weave's training dataset with Megatron-LM's own reader: megatron-core's `GPTDataset`
(from PyPI; it needs torch, so CI does not run this — its recorded run is in docs/format.md).

For `weave pack ... --tokens STORE --dataset PREFIX` (one sequence of exactly L tokens per
context), builds `GPTDataset` over PREFIX with `sequence_length = L`, Megatron's document and sample
shuffles on, both with and without `add_extra_token_to_sequence`, and checks that sample i is
exactly one context — the one Megatron's indices name (`document_index[sample_index[shuffle_index[i]][0]]`)
— comparing with that context rebuilt independently here from contexts.h5 and the corpus's token
store (numpy over the documented .idx/.bin layout): the documents' tokens in order, EOD after each,
padding at the end. Megatron hands the model the pad id as token 0 and masks the loss where the
label is the pad id: checked too (so the pad id must be no real token). With the extra token, the
last label must be the first token of the next context in Megatron's stream.

    python3 -m venv --system-site-packages venv && venv/bin/pip install megatron-core
    venv/bin/python docs/examples/check_megatron_dataset.py train contexts.h5 --store tokens --eod-id 102 [--pad-id 0]
"""
import argparse
import os
import sys
import tempfile

import h5py
import numpy as np

DTYPES = {1: np.uint8, 2: np.int8, 3: np.int16, 4: np.int32, 5: np.int64, 6: np.float64, 7: np.float32, 8: np.uint16}


def read_store(prefix):
    """(sequence lengths, byte pointers, the .bin as an array) of a Megatron indexed dataset."""
    with open(prefix + ".idx", "rb") as f:
        head = f.read(34)
        assert head[:9] == b"MMIDIDX\x00\x00", f"{prefix}.idx: not a Megatron index"
        dtype = DTYPES[head[17]]
        s = int(np.frombuffer(head[18:26], np.uint64)[0])
        lengths = np.frombuffer(f.read(4 * s), np.int32)
        pointers = np.frombuffer(f.read(8 * s), np.int64)
    return lengths, pointers, np.memmap(prefix + ".bin", dtype=dtype, mode="r")


def rebuild_contexts(contexts_path, store, eod, pad):
    """Every context's L tokens from contexts.h5 and the corpus's token store, independently of Weave."""
    lengths, pointers, tokens = store
    item = tokens.dtype.itemsize
    with h5py.File(contexts_path, "r") as f:
        L, sep = int(f.attrs["context_length"]), int(f.attrs["separator_tokens"])
        off = f["contexts/segment_offsets"][:]
        doc, doff, ln = f["segments/doc_id"][:], f["segments/doc_offset"][:], f["segments/length"][:]
    out = np.full((len(off) - 1, L), pad, dtype=np.int64)
    for c in range(len(off) - 1):
        at = 0
        for s in range(off[c], off[c + 1]):
            d = doc[s]
            stream = np.concatenate([tokens[pointers[d] // item: pointers[d] // item + lengths[d]], np.full(sep, eod)])
            out[c, at:at + ln[s]] = stream[doff[s]:doff[s] + ln[s]]
            at += ln[s]
    return out, L


class Tokenizer:
    """What GPTDataset asks of a tokenizer: the EOD and pad ids."""

    def __init__(self, eod, pad, vocab_size):
        self.eod, self.pad, self.vocab_size = eod, pad, vocab_size
        self.unique_identifiers = {"class": "Tokenizer", "eod": eod, "pad": pad}  # for its cache's file names


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("prefix", help="the dataset weave pack wrote (PREFIX.bin/.idx)")
    ap.add_argument("contexts", help="the contexts.h5 it was written from")
    ap.add_argument("--store", required=True, help="the corpus's token store (PREFIX) given to weave pack --tokens")
    ap.add_argument("--eod-id", type=int, required=True)
    ap.add_argument("--pad-id", type=int, default=0)
    ap.add_argument("--samples", type=int, default=300)
    ap.add_argument("--seed", type=int, default=1234)
    args = ap.parse_args()

    import torch  # noqa: F401  (megatron-core needs it)
    from megatron.core.datasets.gpt_dataset import GPTDataset, GPTDatasetConfig
    from megatron.core.datasets.indexed_dataset import IndexedDataset
    from megatron.core.datasets.utils import Split

    expected, L = rebuild_contexts(args.contexts, read_store(args.store), args.eod_id, args.pad_id)
    indexed = IndexedDataset(args.prefix)
    assert len(indexed) == len(expected), f"{len(indexed)} sequences for {len(expected)} contexts"
    vocab = int(max(expected.max(), args.eod_id, args.pad_id)) + 1
    # (extra token, reset position ids): with reset_position_ids GPTDataset computes each sample's
    # loss mask afresh; without it (Megatron's default) it caches the first sample's mask — see below.
    for extra, reset in ((False, True), (True, True), (True, False)):
        with tempfile.TemporaryDirectory() as cache:
            config = GPTDatasetConfig(random_seed=args.seed, sequence_length=L, path_to_cache=cache,
                                      tokenizer=Tokenizer(args.eod_id, args.pad_id, vocab),
                                      reset_position_ids=reset, reset_attention_mask=False, eod_mask_loss=False,
                                      add_extra_token_to_sequence=extra)
            gpt = GPTDataset(indexed, args.prefix, np.arange(len(indexed), dtype=np.int32), None, Split.train, config)
            n = min(args.samples, len(gpt))
            seen, offsets_seen, padded, leaked = set(), set(), 0, 0
            for i in range(n):
                sample = gpt[i]
                j = gpt.shuffle_index[i]
                # Where the sample starts: (place in document_index, token offset); an offset of L
                # names the end of that sequence, i.e. the start of the next one.
                place, offset = int(gpt.sample_index[j][0]), int(gpt.sample_index[j][1])
                place, offset = place + offset // L, offset % L
                if offset != 0:
                    sys.exit(f"sample {i} starts {offset} tokens into a sequence: not one context")
                c = int(gpt.document_index[place])
                offsets_seen.add(int(gpt.sample_index[j][1]))
                # Megatron maps the pad id to token 0 for the embedding and masks the loss where the
                # label is the pad id: the context as Megatron hands it to the model.
                want = np.where(expected[c] == args.pad_id, 0, expected[c])
                tokens = sample["tokens"].numpy()
                if not np.array_equal(tokens, want):
                    first = int(np.nonzero(tokens != want)[0][0])
                    sys.exit(f"extra token {extra}: sample {i} differs from context {c} at token {first}")
                next_first = expected[int(gpt.document_index[place + 1])][0] if extra else args.pad_id
                labels = np.append(expected[c][1:], next_first)  # the pad id where the context is padded
                masked = sample["loss_mask"].numpy() == 0
                if not masked[labels == args.pad_id].all():
                    sys.exit(f"extra token {extra}: sample {i}: a padded label is not masked from the loss")
                if not np.array_equal(masked, labels == args.pad_id):
                    if reset:
                        sys.exit(f"extra token {extra}: sample {i}: the loss mask is not the padded labels")
                    leaked += 1  # the cached mask of an earlier sample (Megatron's, not Weave's)
                if not np.array_equal(sample["labels"].numpy(), np.where(labels == args.pad_id, 0, labels)):
                    sys.exit(f"extra token {extra}: sample {i}: the labels are not the next tokens"
                             + (" / the next context's first token" if extra else ""))
                padded += int((expected[c] == args.pad_id).sum())
                seen.add(c)
            if leaked:
                print(f"note: with reset_position_ids=False, {leaked} of {n} samples had loss-mask zeros where their "
                      "own labels are not padding: megatron-core caches the first sample's loss mask and then masks "
                      "that sample's padding in place, so every later sample inherits it (its tokens and labels are "
                      "right); set reset_position_ids (or eod_mask_loss) to have masks computed per sample")
            print(f"add_extra_token_to_sequence={extra}, reset_position_ids={reset}: {len(gpt)} samples from {len(indexed)} contexts of {L} "
                  f"tokens; the first {n} (shuffled: {len(seen)} distinct contexts) are each exactly their context "
                  f"(sample_index offsets seen: {sorted(offsets_seen)}; {padded} padding tokens, loss masked)")
    print("ok: every checked GPTDataset sample is one Weave context")


if __name__ == "__main__":
    main()
