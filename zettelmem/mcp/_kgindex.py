"""Name lookups for the reference knowledge graph: which note holds which entity, observation, relation.

The reference server addresses everything by name (``"Alice"``, ``("Alice", "Acme",
"works_at")``), zettelmem by note id. This index, ``<home>/mcp_kg.sqlite``, maps one
to the other per scope, so a lookup costs one primary-key read instead of a scan of
the scope. It is a cache, never the truth: each note carries its own names in
``metadata["mcp"]``, a row whose note is gone is dropped when it is read, and a
scope the index has never seen is rebuilt once from the notes' metadata.

Rows: ``(scope, kind, a, b, c) -> note_id`` with

* ``entity``: ``a`` = name, ``b`` = entityType;
* ``observation``: ``a`` = entity name, ``b`` = the observation text;
* ``relation``: ``a`` = from, ``b`` = to, ``c`` = relationType.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

__all__ = ["KGIndex", "Row"]

Kind = Literal["entity", "observation", "relation"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS kg (
    scope TEXT NOT NULL, kind TEXT NOT NULL, a TEXT NOT NULL, b TEXT NOT NULL DEFAULT '',
    c TEXT NOT NULL DEFAULT '', note_id TEXT NOT NULL,
    PRIMARY KEY (scope, kind, a, b, c)
);
CREATE INDEX IF NOT EXISTS kg_b ON kg(scope, kind, b);
CREATE INDEX IF NOT EXISTS kg_note ON kg(note_id);
CREATE TABLE IF NOT EXISTS kg_scopes (scope TEXT PRIMARY KEY);
"""


@dataclass(frozen=True)
class Row:
    """One indexed name and the note that holds it."""

    kind: str
    a: str
    b: str
    c: str
    note_id: str


class KGIndex:
    """A small SQLite table of names -> note ids, one connection guarded by a lock."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def known(self, scope: str) -> bool:
        """Whether this scope was ever indexed (else it is rebuilt from the notes first)."""
        with self._lock:
            return self._db.execute("SELECT 1 FROM kg_scopes WHERE scope = ?", (scope,)).fetchone() is not None

    def mark_known(self, scope: str, rows: Iterable[Row] = ()) -> None:
        with self._lock, self._db:
            self._db.execute("BEGIN")
            self._db.executemany(
                "INSERT OR REPLACE INTO kg(scope, kind, a, b, c, note_id) VALUES (?,?,?,?,?,?)",
                [(scope, r.kind, r.a, r.b, r.c, r.note_id) for r in rows],
            )
            self._db.execute("INSERT OR IGNORE INTO kg_scopes(scope) VALUES (?)", (scope,))

    def put(self, scope: str, rows: Sequence[Row]) -> None:
        self.mark_known(scope, rows)

    def drop_notes(self, note_ids: Iterable[str]) -> None:
        ids = list(note_ids)
        if not ids:
            return
        with self._lock, self._db:
            self._db.execute("BEGIN")
            self._db.executemany("DELETE FROM kg WHERE note_id = ?", [(i,) for i in ids])

    def _rows(self, sql: str, params: Sequence[str]) -> list[Row]:
        with self._lock:
            cur = self._db.execute(f"SELECT kind, a, b, c, note_id FROM kg WHERE {sql} ORDER BY rowid", params)
            return [Row(*r) for r in cur.fetchall()]

    def entities(self, scope: str, names: Sequence[str] | None = None) -> list[Row]:
        """Entity rows of these names (all of the scope's when ``names`` is None)."""
        if names is None:
            return self._rows("scope = ? AND kind = 'entity'", [scope])
        out: list[Row] = []
        for name in dict.fromkeys(names):
            out += self._rows("scope = ? AND kind = 'entity' AND a = ?", [scope, name])
        return out

    def observations(self, scope: str, entity_names: Sequence[str] | None = None) -> list[Row]:
        if entity_names is None:
            return self._rows("scope = ? AND kind = 'observation'", [scope])
        out: list[Row] = []
        for name in dict.fromkeys(entity_names):
            out += self._rows("scope = ? AND kind = 'observation' AND a = ?", [scope, name])
        return out

    def relations(self, scope: str, touching: Sequence[str] | None = None) -> list[Row]:
        """Relation rows (those with an end in ``touching``, when given)."""
        if touching is None:
            return self._rows("scope = ? AND kind = 'relation'", [scope])
        out: dict[str, Row] = {}
        for name in dict.fromkeys(touching):
            for r in self._rows("scope = ? AND kind = 'relation' AND (a = ? OR b = ?)", [scope, name, name]):
                out[r.note_id] = r
        return list(out.values())

    def relation(self, scope: str, src: str, dst: str, rel: str) -> Row | None:
        found = self._rows("scope = ? AND kind = 'relation' AND a = ? AND b = ? AND c = ?", [scope, src, dst, rel])
        return found[0] if found else None

    def matching(self, scope: str, needle: str) -> set[str]:
        """Entity names whose name, type or an observation contains ``needle`` (case-insensitive)."""
        like = needle.lower()
        with self._lock:
            cur = self._db.execute(
                "SELECT a FROM kg WHERE scope = ? AND ((kind = 'entity' AND (instr(lower(a), ?) OR instr(lower(b), ?)))"
                " OR (kind = 'observation' AND instr(lower(b), ?)))",
                (scope, like, like, like),
            )
            return {r[0] for r in cur.fetchall()}
