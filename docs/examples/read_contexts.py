"""Reads a Weave context index (contexts.h5) with plain h5py: per context, its segments and the
cu_seqlens a FlashAttention-varlen / Megatron-style loader needs. Tokens come from your tokenized
corpus: segment (doc, offset, length) is tokens[offset:offset+length] of document `doc`'s stream
(its tokens followed by `separator_tokens` EOS tokens)."""
import h5py
import numpy as np


def contexts(path):
    with h5py.File(path, "r") as f:
        offsets = f["contexts/segment_offsets"][:]
        num_tokens = f["contexts/num_tokens"][:]
        seg = {k: f["segments"][k] for k in ("doc_id", "doc_offset", "length", "is_doc_start", "context_offset")}
        for c in range(len(num_tokens)):
            a, b = offsets[c], offsets[c + 1]
            yield {
                "doc_id": seg["doc_id"][a:b],            # global ids (user ids: /segments/user_doc_id)
                "doc_offset": seg["doc_offset"][a:b],    # first token of each piece in its document
                "is_doc_start": seg["is_doc_start"][a:b],  # 1: reset position ids here
                # /segments/context_offset: each piece's first token in the context; + num_tokens at the end
                "cu_seqlens": np.append(seg["context_offset"][a:b], num_tokens[c]).astype(np.int32),
                "padding": int(f.attrs["context_length"]) - int(num_tokens[c]),  # right-pad to L
            }


if __name__ == "__main__":
    import sys
    for i, ctx in enumerate(contexts(sys.argv[1])):
        print(i, ctx["doc_id"].tolist(), ctx["cu_seqlens"].tolist(), ctx["padding"])
        if i >= 4:
            break
