"""Feature-hashed bag-of-words vectors: deterministic, instant, for tests only."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from zettelmem.text import tokens

__all__ = ["HashingEmbedder"]


class HashingEmbedder:
    """Each token adds ±1 to a hashed bucket; rows are L2-normalised."""

    def __init__(self, dims: int = 256) -> None:
        self.dims = dims
        self.model_id = f"hashing-{dims}"

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dims), dtype=np.float32)
        for row, text in enumerate(texts):
            for tok in tokens(text):
                h = int.from_bytes(hashlib.blake2b(tok.encode(), digest_size=8).digest(), "little")
                out[row, h % self.dims] += 1.0 if (h >> 63) & 1 else -1.0
            norm = np.linalg.norm(out[row])
            if norm > 0:
                out[row] /= norm
        return out
