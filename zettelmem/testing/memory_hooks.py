"""The two hooks the ``Memory``-level parts of the conformance suite share.

:class:`~zettelmem.testing.truth.TruthConformance` and
:class:`~zettelmem.testing.consolidation.ConsolidationConformance` open a
``Memory`` over the backend under test and look for leftover text in it; a
backend's test class overrides these two methods (a server backend may query all
its records in :meth:`MemoryHooks.traces`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

__all__ = ["HNSW_FILES", "MemoryHooks", "files_with"]


#: Chroma's HNSW segment files: once a just-forgotten word was found in ``data_level0.bin``,
#: most likely stray bytes of freed process memory in link slots hnswlib leaves uninitialised
#: (a known limitation of hard forget, README "Truth over time").
HNSW_FILES = frozenset({"data_level0.bin", "link_lists.bin"})


def files_with(home: Path, word: str) -> list[str]:
    """The files under ``home`` holding ``word`` (case-insensitively, as bytes), Chroma's HNSW files aside."""
    return [str(p) for p in home.rglob("*")
            if p.is_file() and p.name not in HNSW_FILES and word.lower().encode() in p.read_bytes().lower()]


class MemoryHooks:
    """Defaults: an embedded NetworkX ``Memory``, and a scan through the store contract."""

    def open_memory(self, home: Path, request: pytest.FixtureRequest, **fields: Any) -> Any:
        """A ``Memory`` over this backend with offline agents (``fields``: more Settings fields)."""
        from zettelmem import Memory, Settings

        return Memory(Settings(home=home, use_llm=False, **fields))

    def traces(self, mem: Any, text: str) -> int:
        """How many records of the store hold ``text`` (default: every note and Change of every scope)."""
        graph, low, n = mem.aio.graph, text.lower(), 0
        for scope in graph.list_scopes():
            n += sum(low in note.model_dump_json().lower() for note in graph.list_notes(scope))
            n += sum(low in c.model_dump_json().lower() for c in graph.get_changes(scope))
        return n
