"""The VectorIndex protocol: note vectors with scope metadata, queried per scope."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from zettelmem.filters import Filter
from zettelmem.models import Scope

__all__ = ["VectorHit", "VectorIndex", "vector_metadata"]


@dataclass(frozen=True, slots=True)
class VectorHit:
    id: str
    similarity: float  # cosine similarity in [-1, 1]


def vector_metadata(note: Any, text_hash: str) -> dict[str, Any]:
    """Metadata stored beside a note's vector: what filters and ``check`` need."""
    when = note.event_time or note.created_at
    meta: dict[str, Any] = {
        "scope": note.scope.key,
        "memory_type": note.memory_type.value,
        "t_event": when.timestamp(),
        "t_created": note.created_at.timestamp(),
        "version": note.version,
        "text_hash": text_hash,
    }
    if note.tags:
        meta["tags"] = list(note.tags)
    return meta


@runtime_checkable
class VectorIndex(Protocol):
    """Stores one vector per note id; every query is confined to one scope."""

    def upsert(self, ids: Sequence[str], vectors: np.ndarray, metadatas: Sequence[dict[str, Any]]) -> None: ...

    def update_metadata(self, ids: Sequence[str], metadatas: Sequence[dict[str, Any]]) -> None: ...

    def delete(self, ids: Sequence[str]) -> None: ...

    def query(self, vector: np.ndarray, scope: Scope, k: int, where: Filter | None = None) -> list[VectorHit]: ...

    def query_many(self, vectors: np.ndarray, scope: Scope, k: int, where: Filter | None = None) -> list[list[VectorHit]]: ...

    def metadata(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]: ...

    def get_vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]: ...

    def ids(self, scope: Scope | None = None) -> set[str]: ...

    def count(self) -> int: ...

    def close(self) -> None: ...
