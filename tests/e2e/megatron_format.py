"""An independent writer of Megatron-LM's indexed dataset layout (docs/format.md), numpy only: the
tests' source of token stores, never Weave's own code."""
import struct

import numpy as np

MAGIC = b"MMIDIDX\x00\x00"
CODES = {np.dtype(np.uint8): 1, np.dtype(np.int8): 2, np.dtype(np.int16): 3, np.dtype(np.int32): 4,
         np.dtype(np.int64): 5, np.dtype(np.float64): 6, np.dtype(np.float32): 7, np.dtype(np.uint16): 8}


def write_store(prefix, sequences, dtype=np.uint16, code=None, version=1, documents=None, pointers=None):
    """Megatron's layout: magic, version (u64), dtype code (u8), sequence count (u64), document
    count (u64), lengths (i32 each), byte pointers (i64 each), document index (i64 each)."""
    dtype = np.dtype(dtype)
    lengths = np.array([len(s) for s in sequences], dtype=np.int32)
    if pointers is None:
        pointers = np.concatenate([[0], np.cumsum(lengths.astype(np.int64) * dtype.itemsize)[:-1]]).astype(np.int64)
    if documents is None:
        documents = np.arange(len(sequences) + 1, dtype=np.int64)
    with open(prefix + ".idx", "wb") as f:
        f.write(MAGIC)
        f.write(struct.pack("<Q", version))
        f.write(struct.pack("<B", CODES[dtype] if code is None else code))
        f.write(struct.pack("<Q", len(sequences)))
        f.write(struct.pack("<Q", len(documents)))
        f.write(lengths.tobytes())
        f.write(np.asarray(pointers, dtype=np.int64).tobytes())
        f.write(np.asarray(documents, dtype=np.int64).tobytes())
    with open(prefix + ".bin", "wb") as f:
        for s in sequences:
            f.write(np.asarray(s, dtype=dtype).tobytes())
