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
    """One vector per note id, kept per scope; every read names its scope.

    Writes take the scope from each metadata's ``scope`` key (see
    :func:`vector_metadata`); an index may keep each scope apart (Chroma: one
    collection per scope), so reads and deletes name the scope they touch.
    """

    def upsert(self, ids: Sequence[str], vectors: np.ndarray, metadatas: Sequence[dict[str, Any]]) -> None:
        """Insert or replace vectors; each metadata carries the note's ``scope`` key."""

    def update_metadata(self, ids: Sequence[str], metadatas: Sequence[dict[str, Any]]) -> None:
        """Replace the metadata of stored vectors (ids without a vector are ignored)."""

    def delete(self, ids: Sequence[str], scope: Scope) -> None:
        """Delete vectors of ``scope`` (unknown ids are ignored); a scope left empty is dropped."""

    def drop_scope(self, scope: Scope) -> None:
        """Delete every vector of ``scope``."""

    def query(self, vector: np.ndarray, scope: Scope, k: int, where: Filter | None = None) -> list[VectorHit]:
        """The ``k`` nearest vectors of ``scope`` (pre-filtered by ``where``), most similar first."""

    def query_many(self, vectors: np.ndarray, scope: Scope, k: int, where: Filter | None = None) -> list[list[VectorHit]]:
        """:meth:`query` for several vectors in one call."""

    def metadata(self, ids: Sequence[str], scope: Scope) -> dict[str, dict[str, Any]]:
        """Stored metadata by id (ids without a vector in ``scope`` are absent)."""

    def get_vectors(self, ids: Sequence[str], scope: Scope) -> dict[str, np.ndarray]:
        """Stored vectors by id (ids without a vector in ``scope`` are absent)."""

    def ids(self, scope: Scope | None = None) -> set[str]:
        """Every id of ``scope`` (of every scope when ``None``)."""

    def scopes(self) -> list[Scope]:
        """Every scope holding at least one vector."""

    def count(self, scope: Scope | None = None) -> int:
        """How many vectors ``scope`` holds (every scope when ``None``)."""

    def close(self) -> None:
        """Release the index (and its folder lock)."""
