"""Erasure for a local Chroma folder: no deleted note's metadata left in its files.

Chroma keeps every write in its own log (the ``embeddings_queue`` table of
``chroma.sqlite3``) until a collection's sync threshold purges it, and SQLite
keeps deleted rows in free pages. After the vectors of hard-forgotten notes
are deleted, :func:`scrub_local_chroma` blanks the metadata (which holds their
tags) in their log entries and vacuums the file. The log entries themselves
stay, so Chroma can still replay its log; they keep the bare vector, not text.

A Chroma *server* keeps its files on its own machine: its operator runs
``chroma utils vacuum`` there.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

__all__ = ["scrub_local_chroma"]


def scrub_local_chroma(folder: Path, ids: Sequence[str]) -> int:
    """Blank the logged metadata of ``ids`` and vacuum ``chroma.sqlite3``; returns rows scrubbed."""
    path = folder / "chroma.sqlite3"
    if not ids or not path.exists():
        return 0
    db = sqlite3.connect(path, timeout=30, isolation_level=None)
    try:
        db.execute("PRAGMA secure_delete=ON")
        marks = ",".join("?" * len(ids))
        cur = db.execute(f"UPDATE embeddings_queue SET metadata = '{{}}' WHERE id IN ({marks})", list(ids))
        scrubbed = cur.rowcount
        db.execute("VACUUM")
        if db.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return int(scrubbed)
    finally:
        db.close()
