"""Migrate a Chroma index from the single-collection layout to one collection per scope.

Up to layout 1 every scope of a memory shared one collection named exactly
like the index (the ``collection`` setting), each vector tagged with its
``scope`` in metadata. :func:`migrate_legacy` copies that collection, a page at
a time, into the scopes' own collections (vectors and metadata unchanged, never
re-embedded), checks every scope's count, then drops the old collection.
Copies are upserts by note id, so a run interrupted anywhere is finished by
opening the store again; until the old collection is gone it is the source of
truth and nothing has been lost.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import numpy as np

from zettelmem.errors import StoreCorrupt
from zettelmem.models import Scope

if TYPE_CHECKING:
    from zettelmem.vectors.chroma import ChromaVectorIndex

__all__ = ["legacy_collection", "migrate_legacy"]

PAGE = 2000
_VALID_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9._-]{1,61}[a-zA-Z0-9]$")


def legacy_collection(client: Any, index: str) -> Any | None:
    """The layout-1 collection of ``index``, if there is one."""
    if not _VALID_NAME.match(index) or ".." in index:
        return None  # Chroma could never have held a collection of that name
    try:
        col = client.get_collection(index, embedding_function=None)
    except Exception as exc:
        if type(exc).__name__ == "NotFoundError":
            return None
        raise
    meta = col.metadata or {}
    return None if "zm_scope" in meta or "zm_role" in meta else col


def migrate_legacy(index: ChromaVectorIndex, legacy: Any, page: int | None = None) -> dict[str, int]:
    """Copy ``legacy`` into ``index``'s per-scope collections, verify, drop it; vectors per scope key."""
    page = page or PAGE
    where = f"{index.where} (collection {legacy.name!r})"
    counts: dict[str, int] = {}
    offset = 0
    try:
        while True:
            res = legacy.get(include=["embeddings", "metadatas"], limit=page, offset=offset)
            ids: list[str] = res["ids"]
            if not ids:
                break
            metas = res["metadatas"] or []
            for i, meta in zip(ids, metas, strict=True):
                key = (meta or {}).get("scope")
                try:
                    Scope.from_key(key) if isinstance(key, str) else None
                except ValueError:
                    key = None
                if not isinstance(key, str):
                    raise StoreCorrupt(f"vector {i!r} at {where} has no valid scope ({key!r}); cannot migrate it")
                counts[key] = counts.get(key, 0) + 1
            index.upsert(ids, np.asarray(res["embeddings"], dtype=np.float32), metas)
            offset += len(ids)
    except Exception as exc:
        if type(exc).__name__ == "NotFoundError":  # another process finished the migration meanwhile
            return counts
        raise
    for key, n in counts.items():
        have = index.count(Scope.from_key(key))
        if have < n:
            raise StoreCorrupt(f"migrating {where}: scope {key!r} has {have} of its {n} vectors after the copy; "
                               "the old collection is kept, open the store again to retry")
    if offset != legacy.count():
        raise StoreCorrupt(f"migrating {where}: read {offset} vectors but the collection holds {legacy.count()}; "
                           "the old collection is kept, open the store again to retry")
    _drop(index._client, legacy)
    return counts


def _drop(client: Any, col: Any) -> None:
    """Delete the records first (chroma#7594: a dropped collection's list metadata lingers), then the collection."""
    try:
        while ids := col.get(include=[], limit=PAGE)["ids"]:
            col.delete(ids=ids)
        client.delete_collection(col.name)
    except Exception as exc:
        if type(exc).__name__ != "NotFoundError":
            raise
