"""Idempotency keys: a rerun of the same ingest adds only what is not stored yet.

A memory whose ``provenance.extra`` holds :data:`KEY_FIELD` is stored with that
key, and the graph commit that stores the note also records
``ingest␟<scope>␟<key> -> note id`` in the store's meta (one transaction, so a
key is recorded exactly when its note is). :func:`stored_keys` looks keys up in
one batched read plus one note lookup: its cost grows with the keys asked, not
with the store.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from zettelmem.agents.base import MemoryInput
from zettelmem.models import Scope
from zettelmem.stores.base import GetMeta, GetNotes

if TYPE_CHECKING:
    from zettelmem.stores.base import GraphStore

__all__ = ["KEY_FIELD", "key_meta", "meta_key", "stored_keys"]

KEY_FIELD = "ingest_key"
_PAGE = 500


def meta_key(scope: Scope, key: str) -> str:
    return f"ingest\x1f{scope.key}\x1f{key}"


def key_meta(items: Sequence[MemoryInput], note_ids: Sequence[str]) -> dict[str, str]:
    """Meta entries recording the keys of these memories -> the note each is stored in (joins their commit)."""
    return {meta_key(m.scope, k): i for m, i in zip(items, note_ids, strict=True)
            if (k := m.provenance.extra.get(KEY_FIELD))}


def stored_keys(graph: GraphStore, scope: Scope, keys: Sequence[str]) -> dict[str, str]:
    """The keys (of ``keys``) whose note is stored in ``scope``, mapped to the note id.

    A key whose note was deleted since counts as not stored.
    """
    found: dict[str, str] = {}
    for start in range(0, len(keys), _PAGE):
        page = list(keys[start : start + _PAGE])
        ids = graph.batch([GetMeta(meta_key(scope, k)) for k in page])
        hits = {k: i for k, i in zip(page, ids, strict=True) if i}
        notes = graph.batch([GetNotes(scope, tuple(hits.values()))])[0] if hits else []
        present = {n.id for n in notes if n is not None}  # a key whose note was deleted is not stored
        found.update({k: i for k, i in hits.items() if i in present})
    return found
