"""The embedded default GraphStore: a NetworkX view over SQLite.

Every write is one SQLite transaction in WAL mode, so what a ``batch`` returned
survives ``kill -9`` of the process, and a write costs O(size of the write), not
O(size of the store). The in-memory ``networkx.MultiDiGraph`` (one node per
note, one edge per link keyed by relation) is rebuilt from SQLite on open and
kept in step with every committed write; reads are served from it.

One writer at a time: a writer locks the folder for the store's lifetime (and
records its pid beside the lock); a second writer gets
:class:`~zettelmem.errors.StoreLocked` naming that pid. Readers
(``read_only=True``) take no lock: they open SQLite with ``mode=ro`` and
``query_only`` (WAL lets them read while a writer commits), see the store as it
was when they opened it, and refuse writes with
:class:`~zettelmem.errors.StoreReadOnly`.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import networkx as nx
from filelock import FileLock, Timeout
from pydantic import ValidationError

from zettelmem.errors import NoteNotFound, StoreCorrupt, StoreError, StoreLocked, StoreNotFound, StoreReadOnly
from zettelmem.filters import predicate
from zettelmem.models import Change, Link, Note, Scope
from zettelmem.stores.base import (
    CountAll,
    DeleteLinks,
    DeleteNotes,
    GetChanges,
    GetLinks,
    GetMeta,
    GetNotes,
    GraphStore,
    ListNotes,
    ListScopes,
    Op,
    PutChanges,
    PutLinks,
    PutMeta,
    PutNotes,
)

__all__ = ["NetworkXGraphStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS notes (id TEXT PRIMARY KEY, scope TEXT NOT NULL, seq INTEGER NOT NULL, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS links (source TEXT NOT NULL, target TEXT NOT NULL, relation TEXT NOT NULL,
    scope TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (source, target, relation));
CREATE TABLE IF NOT EXISTS changes (id TEXT PRIMARY KEY, note_id TEXT NOT NULL, scope TEXT NOT NULL,
    seq INTEGER NOT NULL, data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS changes_note ON changes(note_id);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


def _writer_file(path: Path) -> Path:
    return path.with_name(path.name + ".writer")


def _record_writer(path: Path) -> None:
    """Leave the writer's pid beside the lock, for the message another writer gets."""
    try:
        _writer_file(path).write_text(json.dumps({"pid": os.getpid()}), encoding="utf-8")
    except OSError:
        pass


def _writer(path: Path) -> str:
    try:
        pid = json.loads(_writer_file(path).read_text(encoding="utf-8"))["pid"]
    except (OSError, ValueError, KeyError, TypeError):
        return ""
    return f" (pid {int(pid)})"


class NetworkXGraphStore(GraphStore):
    """NetworkX in memory, SQLite on disk. ``path`` is the SQLite file."""

    name = "networkx"

    def __init__(self, path: str | Path, *, lock: bool = True, synchronous: str = "NORMAL",
                 read_only: bool = False) -> None:
        self.path = Path(path)
        self.read_only = read_only
        if read_only and not self.path.is_file():
            raise StoreNotFound(f"no graph store at {self.path}")
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = FileLock(str(self.path) + ".lock") if lock and not read_only else None
        if self._lock is not None:
            try:
                self._lock.acquire(timeout=0)
            except Timeout as exc:
                raise StoreLocked(
                    f"{self.path.parent} is open for writing in another process{_writer(self.path)} "
                    f"(lock {self._lock.lock_file}); read commands still work"
                ) from exc
            _record_writer(self.path)
        self._mutex = threading.RLock()
        self.graph: nx.MultiDiGraph = nx.MultiDiGraph()
        self._changes: dict[str, list[Change]] = {}
        self._change_ids: dict[str, Change] = {}
        self._seq = 0
        try:
            if read_only:
                self._db = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True,
                                           check_same_thread=False, isolation_level=None)
                self._db.execute("PRAGMA query_only=1")
            else:
                self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=FULL" if synchronous == "FULL" else "PRAGMA synchronous=NORMAL")
                self._db.executescript(_SCHEMA)
            self._load()
        except sqlite3.DatabaseError as exc:
            self._release()
            raise StoreCorrupt(f"cannot read graph store {self.path}: {exc}") from exc
        except (ValidationError, ValueError, KeyError) as exc:
            self._release()
            raise StoreCorrupt(f"graph store {self.path} holds an unreadable record: {exc}") from exc

    # -- lifecycle ------------------------------------------------------------------
    def _load(self) -> None:
        for note_id, data in self._db.execute("SELECT id, data FROM notes ORDER BY seq"):
            note = Note.model_validate_json(data)
            self.graph.add_node(note_id, note=note)
        for data, in self._db.execute("SELECT data FROM links"):
            link = Link.model_validate_json(data)
            self.graph.add_edge(link.source, link.target, key=link.relation.value, link=link)
        for data, in self._db.execute("SELECT data FROM changes ORDER BY seq"):
            change = Change.model_validate_json(data)
            self._changes.setdefault(change.note_id, []).append(change)
            self._change_ids[change.id] = change
        row = self._db.execute(
            "SELECT max(s) FROM (SELECT max(seq) s FROM notes UNION ALL SELECT max(seq) FROM changes)"
        ).fetchone()
        self._seq = row[0] or 0

    def _release(self) -> None:
        if self._lock is not None and self._lock.is_locked:
            try:
                os.unlink(_writer_file(self.path))
            except OSError:
                pass
            self._lock.release()

    def close(self) -> None:
        with self._mutex:
            try:
                self._db.close()
            except Exception:
                pass
            self._release()

    # -- reads ----------------------------------------------------------------------
    def _note(self, scope: Scope, note_id: str) -> Note | None:
        data = self.graph.nodes.get(note_id)
        if data is None or data["note"].scope != scope:
            return None
        note: Note = data["note"]
        return note

    def _links(self, scope: Scope, ids: Sequence[str], direction: str) -> list[Link]:
        seen: dict[tuple[str, str, str], Link] = {}
        for note_id in ids:
            if self._note(scope, note_id) is None:
                continue
            edges = []
            if direction in ("out", "both"):
                edges += self.graph.out_edges(note_id, data="link")
            if direction in ("in", "both"):
                edges += self.graph.in_edges(note_id, data="link")
            for _u, _v, link in edges:
                seen[link.key] = link
        return list(seen.values())

    # -- the primitive ----------------------------------------------------------------
    def batch(self, ops: Sequence[Op]) -> list[Any]:
        with self._mutex:
            writes = [op for op in ops if isinstance(op, PutNotes | DeleteNotes | PutLinks | DeleteLinks | PutChanges | PutMeta)]
            if not writes:
                return [self._read(op) for op in ops]
            if self.read_only:
                raise StoreReadOnly(f"{self.path.parent} is open read-only; open it without read_only to write")
            # Validate and stage on a copy-free plan, commit to SQLite, then apply to memory.
            try:
                self._db.execute("BEGIN IMMEDIATE")
                results = [self._execute(op) for op in ops]
                self._db.execute("COMMIT")
            except BaseException as exc:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                self._reload_graph()
                if isinstance(exc, sqlite3.DatabaseError):
                    raise StoreError(f"graph store write failed: {exc}") from exc
                raise
            return results

    async def abatch(self, ops: Sequence[Op]) -> list[Any]:
        """Inline: reads are in memory and a WAL commit is short, so no thread hop."""
        return self.batch(ops)

    def _reload_graph(self) -> None:
        self.graph = nx.MultiDiGraph()
        self._changes, self._change_ids = {}, {}
        self._load()

    def _read(self, op: Op) -> Any:
        if isinstance(op, GetNotes):
            return [self._note(op.scope, i) for i in op.ids]
        if isinstance(op, ListNotes):
            keep = predicate(op.where)
            notes = [
                d["note"]
                for _, d in self.graph.nodes(data=True)
                if d["note"].scope == op.scope and keep(d["note"])
            ]
            end = None if op.limit is None else op.offset + op.limit
            return notes[op.offset : end]
        if isinstance(op, GetLinks):
            return self._links(op.scope, op.note_ids, op.direction)
        if isinstance(op, GetChanges):
            if op.change_id is not None:
                c = self._change_ids.get(op.change_id)
                return [c] if c is not None and c.scope == op.scope else []
            if op.note_id is None:
                return [c for cs in self._changes.values() for c in cs if c.scope == op.scope]
            return [c for c in self._changes.get(op.note_id, []) if c.scope == op.scope]
        if isinstance(op, CountAll):
            return self._count(op.scope)
        if isinstance(op, ListScopes):
            return sorted({d["note"].scope for _, d in self.graph.nodes(data=True)}, key=lambda s: s.key)
        if isinstance(op, GetMeta):
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (op.key,)).fetchone()
            return row[0] if row else None
        raise TypeError(f"unknown op {op!r}")

    def _count(self, scope: Scope | None) -> dict[str, int]:
        if scope is None:
            return {
                "notes": self.graph.number_of_nodes(),
                "links": self.graph.number_of_edges(),
                "changes": len(self._change_ids),
            }
        nodes = [n for n, d in self.graph.nodes(data=True) if d["note"].scope == scope]
        links = sum(self.graph.out_degree(n) for n in nodes)
        changes = sum(1 for c in self._change_ids.values() if c.scope == scope)
        return {"notes": len(nodes), "links": links, "changes": changes}

    def _execute(self, op: Op) -> Any:
        db = self._db
        if isinstance(op, PutNotes):
            for note in op.notes:
                self._seq += 1
                existing = self.graph.nodes.get(note.id)
                if existing is not None and existing["note"].scope != note.scope:
                    raise StoreError(f"note id {note.id} already exists in another scope")
                db.execute(
                    "INSERT INTO notes(id, scope, seq, data) VALUES (?,?,?,?) "
                    "ON CONFLICT(id) DO UPDATE SET data = excluded.data",
                    (note.id, note.scope.key, self._seq, note.model_dump_json()),
                )
                self.graph.add_node(note.id, note=note)
            return None
        if isinstance(op, DeleteNotes):
            gone = [i for i in op.ids if self._note(op.scope, i) is not None]
            for note_id in gone:
                db.execute("DELETE FROM notes WHERE id = ?", (note_id,))
                db.execute("DELETE FROM links WHERE source = ? OR target = ?", (note_id, note_id))
                db.execute("DELETE FROM changes WHERE note_id = ?", (note_id,))
                self.graph.remove_node(note_id)
                for c in self._changes.pop(note_id, []):
                    self._change_ids.pop(c.id, None)
            return len(gone)
        if isinstance(op, PutLinks):
            for link in op.links:
                for end in (link.source, link.target):
                    if self._note(op.scope, end) is None:
                        raise NoteNotFound(f"cannot link: no note {end!r} in scope {op.scope}")
                db.execute(
                    "INSERT INTO links(source, target, relation, scope, data) VALUES (?,?,?,?,?) "
                    "ON CONFLICT(source, target, relation) DO UPDATE SET data = excluded.data",
                    (link.source, link.target, link.relation.value, op.scope.key, link.model_dump_json()),
                )
                self.graph.add_edge(link.source, link.target, key=link.relation.value, link=link)
            return None
        if isinstance(op, DeleteLinks):
            n = 0
            for source, target, relation in op.keys:
                if self._note(op.scope, source) is None or self._note(op.scope, target) is None:
                    continue
                keys = [relation] if relation else list(self.graph.get_edge_data(source, target, default={}))
                for key in keys:
                    if self.graph.has_edge(source, target, key=key):
                        db.execute(
                            "DELETE FROM links WHERE source=? AND target=? AND relation=?",
                            (source, target, key),
                        )
                        self.graph.remove_edge(source, target, key=key)
                        n += 1
            return n
        if isinstance(op, PutChanges):
            for change in op.changes:
                self._seq += 1
                db.execute(  # an upsert keeps the change's place (seq) in history
                    "INSERT INTO changes(id, note_id, scope, seq, data) VALUES (?,?,?,?,?) "
                    "ON CONFLICT(id) DO UPDATE SET data = excluded.data",
                    (change.id, change.note_id, change.scope.key, self._seq, change.model_dump_json()),
                )
                history = self._changes.setdefault(change.note_id, [])
                old = self._change_ids.get(change.id)
                if old is not None and old in history:
                    history[history.index(old)] = change
                else:
                    history.append(change)
                self._change_ids[change.id] = change
            return None
        if isinstance(op, PutMeta):
            db.execute(
                "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (op.key, op.value),
            )
            return None
        return self._read(op)
