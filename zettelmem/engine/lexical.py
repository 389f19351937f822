"""BM25 over note text and attributes, one index per scope, rebuilt lazily.

rank-bm25 indexes are immutable, so a scope's index is rebuilt on the first
search after a write to that scope (``invalidate``). Two indexes per scope:

* ``note``: the stemmed terms of :meth:`Note.lexical_text` (content, context,
  keywords, tags, entities);
* ``thread``: the same plus the content of the note it answers or follows, so a
  terse reply ("Yes, last Sunday!") is found by the words of the question it
  answers.
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
    def __init__(self, notes: list[Note], threads: dict[str, str]) -> None:
        self.ids = [n.id for n in notes]
        docs = [terms(n.lexical_text()) or ["\x00"] for n in notes]
        # epsilon=0: a word in more than half the notes weighs nothing (as in SQLite FTS5's bm25),
        # instead of rank-bm25's floor of a quarter of the average IDF
        self.bm25 = BM25Okapi(docs, epsilon=0.0) if docs else None
        tdocs = [d + terms(threads[n.id]) if n.id in threads else d for n, d in zip(notes, docs, strict=True)]
        self.thread = BM25Okapi(tdocs, epsilon=0.0) if threads and docs else None


class LexicalIndex:
    """Lazily rebuilt BM25 per scope.

    ``loader(scope)`` returns the scope's notes and, per note id, the text of the
    note it answers or follows.
    """

    def __init__(self, loader: Callable[[Scope], tuple[list[Note], dict[str, str]]]) -> None:
        self._loader = loader
        self._indexes: dict[str, _ScopeIndex] = {}
        self._lock = threading.Lock()

    def invalidate(self, scope: Scope | None = None) -> None:
        with self._lock:
            if scope is None:
                self._indexes.clear()
            else:
                self._indexes.pop(scope.key, None)

    def search(self, scope: Scope, query: str, k: int, which: str = "note") -> list[tuple[str, float]]:
        """Top ``k`` (note id, BM25 score) of the ``note`` or ``thread`` index."""
        q = terms(query)
        if not q or k <= 0:
            return []
        with self._lock:
            index = self._indexes.get(scope.key)
            if index is None:
                index = self._indexes[scope.key] = _ScopeIndex(*self._loader(scope))
        bm25 = index.bm25 if which == "note" else index.thread
        if bm25 is None:
            return []
        scores = bm25.get_scores(q)
        top = np.argsort(-scores)[:k]
        return [(index.ids[i], float(scores[i])) for i in top if scores[i] > 0]
