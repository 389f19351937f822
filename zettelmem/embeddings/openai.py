"""OpenAI (or compatible) embeddings, by configuration."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from zettelmem.config import OpenAIEmbeddingConfig
from zettelmem.errors import BackendUnavailable, ConfigurationError

__all__ = ["OpenAIEmbedder"]

_KNOWN_DIMS = {"text-embedding-3-small": 1536, "text-embedding-3-large": 3072, "text-embedding-ada-002": 1536}


class OpenAIEmbedder:
    """Calls ``/embeddings``; vectors are re-normalised to unit length."""

    def __init__(self, config: OpenAIEmbeddingConfig) -> None:
        try:
            import openai
        except ImportError as exc:  # pragma: no cover - depends on extras
            raise ConfigurationError("OpenAI embeddings need `pip install zettelmem[openai]`") from exc
        key = config.api_key.get_secret_value() if config.api_key else None
        self._client = openai.OpenAI(base_url=config.base_url, api_key=key or "unset")
        self.config = config
        self.model_id = f"openai:{config.model}"
        self.dims = config.dimensions or _KNOWN_DIMS.get(config.model, 1536)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dims), dtype=np.float32)
        kwargs: dict[str, Any] = {"dimensions": self.config.dimensions} if self.config.dimensions else {}
        try:
            resp = self._client.embeddings.create(model=self.config.model, input=list(texts), **kwargs)
        except Exception as exc:
            raise BackendUnavailable(f"embedding call failed: {exc}") from exc
        arr = np.array([d.embedding for d in resp.data], dtype=np.float32)
        out: np.ndarray = arr / np.clip(np.linalg.norm(arr, axis=1, keepdims=True), 1e-12, None)
        return out
