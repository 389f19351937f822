"""The Embedder protocol and the factory that picks one from settings."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from zettelmem.config import EmbeddingConfig

__all__ = ["Embedder", "make_embedder"]


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors of a fixed dimension."""

    model_id: str
    dims: int

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Shape (len(texts), dims), rows L2-normalised."""
        ...


_CACHE: dict[str, Embedder] = {}


def make_embedder(config: EmbeddingConfig) -> Embedder:
    """One embedder per distinct configuration per process (models load once)."""
    key = config.model_dump_json()
    if key not in _CACHE:
        if config.provider == "onnx":
            from zettelmem.embeddings.onnx import OnnxEmbedder

            _CACHE[key] = OnnxEmbedder(config)
        elif config.provider == "openai":
            from zettelmem.embeddings.openai import OpenAIEmbedder

            _CACHE[key] = OpenAIEmbedder(config)
        else:
            from zettelmem.embeddings.hashing import HashingEmbedder

            _CACHE[key] = HashingEmbedder(config.dims)
    return _CACHE[key]
