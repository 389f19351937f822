"""BM25 over note text and attributes, one index per scope, rebuilt lazily.

rank-bm25 indexes are immutable, so a scope's index is rebuilt on the first
search after a write to that scope (``invalidate``). Documents are the stemmed
terms of :meth:`Note.lexical_text` (content, context, keywords, tags, entities).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np
from rank_bm25 import BM25Okapi

from zettelmem.models import Note, Scope
from zettelmem.text import terms

__all__ = ["LexicalIndex"]


class _ScopeIndex:
    def __init__(self, notes: list[Note]) -> None:
        self.ids = [n.id for n in notes]
        docs = [terms(n.lexical_text()) or ["\x00"] for n in notes]
        self.bm25 = BM25Okapi(docs) if docs else None


class LexicalIndex:
    """Lazily rebuilt BM25 per scope; ``loader(scope)`` returns the scope's notes."""

    def __init__(self, loader: Callable[[Scope], list[Note]]) -> None:
        self._loader = loader
        self._indexes: dict[str, _ScopeIndex] = {}
        self._lock = threading.Lock()

    def invalidate(self, scope: Scope | None = None) -> None:
        with self._lock:
            if scope is None:
                self._indexes.clear()
            else:
                self._indexes.pop(scope.key, None)

    def search(self, scope: Scope, query: str, k: int) -> list[tuple[str, float]]:
        q = terms(query)
        if not q or k <= 0:
            return []
        with self._lock:
            index = self._indexes.get(scope.key)
            if index is None:
                index = self._indexes[scope.key] = _ScopeIndex(self._loader(scope))
        if index.bm25 is None:
            return []
        scores = index.bm25.get_scores(q)
        top = np.argsort(-scores)[:k]
        return [(index.ids[i], float(scores[i])) for i in top if scores[i] > 0]
