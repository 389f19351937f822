"""The embedded default GraphStore: SQLite on disk, the link topology in NetworkX.

Every write is one SQLite transaction in WAL mode, so what a ``batch`` returned
survives ``kill -9`` of the process, and a write costs O(size of the write), not
O(size of the store). The full-text rows (FTS5, see
:mod:`zettelmem.stores.sqlite_schema`) are written in the same transaction as
the notes and links that change them.

Memory holds topology, not notes: the ``networkx.MultiDiGraph`` has one node per
note (its id, with the scope key as the ``scope`` attribute) and one edge per
link (keyed by relation, no attributes), rebuilt from SQLite on open and kept in
step with every committed write. Notes are read from SQLite on demand through a
bounded LRU cache (``cache_size``), links by key; lists, counts and history are
paged or counted in SQL.

One writer at a time: a writer locks the folder for the store's lifetime (and
records its pid beside the lock); a second writer gets
:class:`~zettelmem.errors.StoreLocked` naming that pid. Readers
(``read_only=True``) take no lock: they open SQLite with ``mode=ro`` and
``query_only`` (WAL lets them read while a writer commits; notes are read from
SQLite, the link topology is as of the opening), and refuse writes with
:class:`~zettelmem.errors.StoreReadOnly`.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import networkx as nx
from filelock import FileLock, Timeout
from pydantic import ValidationError

from zettelmem.errors import (
    NoteNotFound,
    SchemaVersionError,
    StoreCorrupt,
    StoreError,
    StoreLocked,
    StoreNotFound,
    StoreReadOnly,
)
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
    SearchText,
)
from zettelmem.stores.lexical import NOTE_FIELDS, THREAD_RELATIONS, query_words, scope_token, thread_text
from zettelmem.stores.sqlite_schema import (
    SCHEMA_VERSION,
    TEXT_COLUMNS,
    migrate,
    schema_version,
    text_row,
    write_text_row,
)

__all__ = ["NOTE_WEIGHTS", "THREAD_WEIGHTS", "NetworkXGraphStore"]

_WRITES = (PutNotes, DeleteNotes, PutLinks, DeleteLinks, PutChanges, PutMeta)
_CHUNK = 500  # ids per ``IN (...)`` lookup

#: bm25() column weights of a "note" search (note_id, scope, then the text fields; the scope token is 0).
NOTE_WEIGHTS = (0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0)
#: bm25() column weights of a "thread" search (the note's fields, then its thread).
THREAD_WEIGHTS = (0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0)


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
    """SQLite on disk, link topology in NetworkX. ``path`` is the SQLite file.

    Args:
        path: the SQLite file (created with its folder if missing).
        lock: hold a file lock beside it for the store's lifetime.
        synchronous: SQLite ``synchronous`` (``FULL`` also survives power loss).
        cache_size: notes kept in memory (least recently used are dropped).
        read_only: open beside a writer: no lock, nothing created, writes refused.
    """

    name = "networkx"

    def __init__(self, path: str | Path, *, lock: bool = True, synchronous: str = "NORMAL",
                 cache_size: int = 10_000, read_only: bool = False) -> None:
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
        self._cache: OrderedDict[str, Note] = OrderedDict()
        self._cache_size = max(0, cache_size)
        self._seq = 0
        try:
            if read_only:
                self._db = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True,
                                           check_same_thread=False, isolation_level=None)
                self._db.execute("PRAGMA query_only=1")
                if schema_version(self._db) != SCHEMA_VERSION:
                    raise SchemaVersionError(
                        f"{self.path} has schema version {schema_version(self._db)}, not {SCHEMA_VERSION}: "
                        "open it once for writing (any write command migrates it), then read it"
                    )
            else:
                self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=FULL" if synchronous == "FULL" else "PRAGMA synchronous=NORMAL")
                migrate(self._db, str(self.path))
            self._load()
        except SchemaVersionError:
            self._release()
            raise
        except sqlite3.DatabaseError as exc:
            self._release()
            raise StoreCorrupt(f"cannot read graph store {self.path}: {exc}") from exc
        except (ValidationError, ValueError, KeyError) as exc:
            self._release()
            raise StoreCorrupt(f"graph store {self.path} holds an unreadable record: {exc}") from exc

    # -- lifecycle ------------------------------------------------------------------
    def _load(self) -> None:
        graph = nx.MultiDiGraph()
        graph.add_nodes_from((i, {"scope": s}) for i, s in self._db.execute("SELECT id, scope FROM notes"))
        graph.add_edges_from((s, t, r, {}) for s, t, r in self._db.execute("SELECT source, target, relation FROM links"))
        self.graph = graph
        self._cache.clear()
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

    # -- notes: SQLite behind a bounded cache ------------------------------------------
    def _in_scope(self, scope: Scope, note_id: str) -> bool:
        data = self.graph.nodes.get(note_id)
        return data is not None and data["scope"] == scope.key

    def _remember(self, note: Note) -> None:
        if self._cache_size:
            self._cache[note.id] = note
            self._cache.move_to_end(note.id)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)

    def _notes(self, ids: Iterable[str]) -> dict[str, Note]:
        """Stored notes by id (any scope; the caller checks), cache first."""
        out: dict[str, Note] = {}
        missing = []
        for note_id in dict.fromkeys(ids):
            cached = self._cache.get(note_id)
            if cached is not None:
                self._cache.move_to_end(note_id)
                out[note_id] = cached
            elif note_id in self.graph:
                missing.append(note_id)
        for start in range(0, len(missing), _CHUNK):
            chunk = missing[start : start + _CHUNK]
            marks = ",".join("?" * len(chunk))
            for note_id, data in self._db.execute(f"SELECT id, data FROM notes WHERE id IN ({marks})", chunk):
                note = self._parse(data)
                out[note_id] = note
                self._remember(note)
        return out

    def _parse(self, data: str) -> Note:
        try:
            return Note.model_validate_json(data)
        except ValidationError as exc:
            raise StoreCorrupt(f"graph store {self.path} holds an unreadable record: {exc}") from exc

    def _scope_notes(self, scope: Scope, sql_tail: str = "", params: Sequence[Any] = ()) -> Iterator[Note]:
        """Stream the notes of a scope, oldest first (not cached: a list must not flush the cache)."""
        query = "SELECT data FROM notes WHERE scope = ? ORDER BY seq" + sql_tail
        for data, in self._db.execute(query, (scope.key, *params)):
            yield self._parse(data)

    def _links(self, scope: Scope, ids: Sequence[str], direction: str) -> list[Link]:
        """Links touching ``ids``: found in the topology, read from SQLite by key."""
        if direction not in ("out", "in", "both"):
            raise ValueError(f"direction must be 'out', 'in' or 'both', not {direction!r}")
        keys: dict[tuple[str, str, str], None] = {}
        for note_id in dict.fromkeys(ids):
            if not self._in_scope(scope, note_id):
                continue
            if direction in ("out", "both"):
                keys.update(dict.fromkeys(self.graph.out_edges(note_id, keys=True)))
            if direction in ("in", "both"):
                keys.update(dict.fromkeys(self.graph.in_edges(note_id, keys=True)))
        out: list[Link] = []
        for key in keys:
            row = self._db.execute("SELECT data FROM links WHERE source = ? AND target = ? AND relation = ?",
                                   key).fetchone()
            if row is not None:
                out.append(Link.model_validate_json(row[0]))
        return out

    # -- the primitive ----------------------------------------------------------------
    def batch(self, ops: Sequence[Op]) -> list[Any]:
        with self._mutex:
            if not any(isinstance(op, _WRITES) for op in ops):
                try:
                    return [self._read(op) for op in ops]
                except sqlite3.DatabaseError as exc:
                    raise StoreError(f"graph store read failed: {exc}") from exc
                except ValidationError as exc:
                    raise StoreCorrupt(f"graph store {self.path} holds an unreadable record: {exc}") from exc
            if self.read_only:
                raise StoreReadOnly(f"{self.path.parent} is open read-only; open it without read_only to write")
            try:
                self._db.execute("BEGIN IMMEDIATE")
                results = [self._execute(op) for op in ops]
                self._db.execute("COMMIT")
            except BaseException as exc:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                self._load()  # the graph and cache were changed as the batch went
                if isinstance(exc, sqlite3.DatabaseError):
                    raise StoreError(f"graph store write failed: {exc}") from exc
                raise
            return results

    async def abatch(self, ops: Sequence[Op]) -> list[Any]:
        """Inline: reads are indexed lookups and a WAL commit is short, so no thread hop."""
        return self.batch(ops)

    def _read(self, op: Op) -> Any:
        if isinstance(op, GetNotes):
            found = self._notes(i for i in op.ids if self._in_scope(op.scope, i))
            return [found.get(i) for i in op.ids]
        if isinstance(op, ListNotes):
            return self._list(op)
        if isinstance(op, GetLinks):
            return self._links(op.scope, op.note_ids, op.direction)
        if isinstance(op, GetChanges):
            return self._changes(op)
        if isinstance(op, CountAll):
            return self._count(op.scope)
        if isinstance(op, ListScopes):
            rows = self._db.execute("SELECT DISTINCT scope FROM notes").fetchall()
            return sorted((Scope.from_key(key) for key, in rows), key=lambda s: s.key)
        if isinstance(op, SearchText):
            return self._search(op)
        if isinstance(op, GetMeta):
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (op.key,)).fetchone()
            return row[0] if row else None
        raise TypeError(f"unknown op {op!r}")

    def _list(self, op: ListNotes) -> list[Note]:
        offset = max(0, op.offset)
        if op.limit is not None and op.limit <= 0:
            return []
        if op.where is None:  # paged in SQL
            return list(self._scope_notes(op.scope, " LIMIT ? OFFSET ?", (op.limit if op.limit is not None else -1,
                                                                           offset)))
        keep = predicate(op.where)
        out: list[Note] = []
        for note in self._scope_notes(op.scope):  # filtered while streaming
            if not keep(note):
                continue
            if offset:
                offset -= 1
                continue
            out.append(note)
            if op.limit is not None and len(out) >= op.limit:
                break
        return out

    def _changes(self, op: GetChanges) -> list[Change]:
        if op.change_id is not None:
            rows = self._db.execute("SELECT data FROM changes WHERE id = ? AND scope = ?",
                                    (op.change_id, op.scope.key))
        elif op.note_id is not None:
            rows = self._db.execute("SELECT data FROM changes WHERE note_id = ? AND scope = ? ORDER BY seq",
                                    (op.note_id, op.scope.key))
        else:
            rows = self._db.execute("SELECT data FROM changes WHERE scope = ? ORDER BY seq", (op.scope.key,))
        return [Change.model_validate_json(data) for data, in rows]

    def _count(self, scope: Scope | None) -> dict[str, int]:
        where, params = ("", ()) if scope is None else (" WHERE scope = ?", (scope.key,))
        return {
            table: int(self._db.execute(f"SELECT count(*) FROM {table}{where}", params).fetchone()[0])
            for table in ("notes", "links", "changes")
        }

    def _search(self, op: SearchText) -> list[tuple[str, float]]:
        words = query_words(op.query)
        if not words or op.k <= 0:
            return []
        expr = " OR ".join('"' + w.replace('"', '""') + '"' for w in words)
        if op.field == "note":
            expr, weights = "{" + " ".join(NOTE_FIELDS) + "} : (" + expr + ")", NOTE_WEIGHTS
        elif op.field == "thread":
            weights = THREAD_WEIGHTS
        else:
            raise ValueError(f"field must be 'note' or 'thread', not {op.field!r}")
        # the scope's token narrows the match inside the index (weight 0: it does not score)
        expr = f'scope_token : "{scope_token(op.scope.key)}" AND ({expr})'
        marks = ",".join("?" * (len(weights) + 1))
        query = (f"SELECT rowid, -bm25(notes_fts, {marks}, 0) AS s FROM notes_fts "
                 "WHERE notes_fts MATCH ? ORDER BY s DESC, rowid LIMIT ? OFFSET ?")
        keep = predicate(op.where) if op.where is not None else None
        page = op.k if keep is None else max(op.k, 50)
        out: list[tuple[str, float]] = []
        offset = 0
        while len(out) < op.k:
            rows = self._db.execute(query, (*weights, 0.0, expr, page, offset)).fetchall()
            hits = self._note_ids(op.scope, [(seq, float(s)) for seq, s in rows if s > 0])
            if keep is not None:
                notes = self._notes(i for i, _ in hits)
                hits = [(i, s) for i, s in hits if i in notes and keep(notes[i])]
            out += hits
            if len(rows) < page:
                break
            offset += page
        return out[: op.k]

    def _note_ids(self, scope: Scope, ranked: list[tuple[int, float]]) -> list[tuple[str, float]]:
        """Full-text hits ``(seq, score)`` as ``(note id, score)``, in order (only the scope's notes)."""
        if not ranked:
            return []
        marks = ",".join("?" * len(ranked))
        ids = dict(self._db.execute(f"SELECT seq, id FROM notes WHERE scope = ? AND seq IN ({marks})",
                                    (scope.key, *(seq for seq, _ in ranked))).fetchall())
        return [(ids[seq], s) for seq, s in ranked if seq in ids]

    # -- writes -------------------------------------------------------------------------
    def _execute(self, op: Op) -> Any:
        if isinstance(op, PutNotes):
            return self._put_notes(op)
        if isinstance(op, DeleteNotes):
            return self._delete_notes(op)
        if isinstance(op, PutLinks):
            return self._put_links(op)
        if isinstance(op, DeleteLinks):
            return self._delete_links(op)
        if isinstance(op, PutChanges):
            for change in op.changes:
                self._seq += 1
                self._db.execute(  # an upsert keeps the change's place (seq) in history
                    "INSERT INTO changes(id, note_id, scope, seq, data) VALUES (?,?,?,?,?) "
                    "ON CONFLICT(id) DO UPDATE SET data = excluded.data",
                    (change.id, change.note_id, change.scope.key, self._seq, change.model_dump_json()),
                )
            return None
        if isinstance(op, PutMeta):
            self._db.execute(
                "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (op.key, op.value),
            )
            return None
        return self._read(op)

    def _put_notes(self, op: PutNotes) -> None:
        stale: set[str] = set()
        for note in op.notes:
            node = self.graph.nodes.get(note.id)
            if node is not None and node["scope"] != note.scope.key:
                raise StoreError(f"note id {note.id} already exists in another scope")
            self._seq += 1
            self._db.execute(
                "INSERT INTO notes(id, scope, seq, data) VALUES (?,?,?,?) "
                "ON CONFLICT(id) DO UPDATE SET data = excluded.data",
                (note.id, note.scope.key, self._seq, note.model_dump_json()),
            )
            self.graph.add_node(note.id, scope=note.scope.key)
            self._cache.pop(note.id, None)
            self._remember(note)
            stale.add(note.id)
            stale.update(self._thread_readers(note.id))
        self._refresh_text(stale)

    def _delete_notes(self, op: DeleteNotes) -> int:
        gone = [i for i in dict.fromkeys(op.ids) if self._in_scope(op.scope, i)]
        readers = {r for i in gone for r in self._thread_readers(i)} - set(gone)
        for note_id in gone:
            self._db.execute("DELETE FROM notes_fts WHERE rowid IN (SELECT seq FROM notes WHERE id = ?)", (note_id,))
            self._db.execute("DELETE FROM notes WHERE id = ?", (note_id,))
            self._db.execute("DELETE FROM links WHERE source = ? OR target = ?", (note_id, note_id))
            self._db.execute("DELETE FROM changes WHERE note_id = ?", (note_id,))
            self.graph.remove_node(note_id)
            self._cache.pop(note_id, None)
        self._refresh_text(readers)
        return len(gone)

    def _put_links(self, op: PutLinks) -> None:
        stale: set[str] = set()
        for link in op.links:
            for end in (link.source, link.target):
                if not self._in_scope(op.scope, end):
                    raise NoteNotFound(f"cannot link: no note {end!r} in scope {op.scope}")
            self._db.execute(
                "INSERT INTO links(source, target, relation, scope, data) VALUES (?,?,?,?,?) "
                "ON CONFLICT(source, target, relation) DO UPDATE SET data = excluded.data",
                (link.source, link.target, link.relation.value, op.scope.key, link.model_dump_json()),
            )
            self.graph.add_edge(link.source, link.target, key=link.relation.value)
            if link.relation.value in THREAD_RELATIONS:
                stale.add(link.source)
        self._refresh_text(stale)

    def _delete_links(self, op: DeleteLinks) -> int:
        n = 0
        stale: set[str] = set()
        for source, target, relation in op.keys:
            if not (self._in_scope(op.scope, source) and self._in_scope(op.scope, target)):
                continue
            keys = [relation] if relation else list(self.graph.get_edge_data(source, target, default={}))
            for key in keys:
                if self.graph.has_edge(source, target, key=key):
                    self._db.execute(
                        "DELETE FROM links WHERE source=? AND target=? AND relation=?", (source, target, key)
                    )
                    self.graph.remove_edge(source, target, key=key)
                    n += 1
                    if key in THREAD_RELATIONS:
                        stale.add(source)
        self._refresh_text(stale)
        return n

    # -- full-text rows -------------------------------------------------------------------
    def _thread_readers(self, note_id: str) -> list[str]:
        """Notes whose thread holds ``note_id``'s content (they answer or follow it)."""
        if note_id not in self.graph:
            return []
        return [u for u, _v, key in self.graph.in_edges(note_id, keys=True) if key in THREAD_RELATIONS]

    def _thread(self, note_id: str) -> str:
        targets = [v for _u, v, key in self.graph.out_edges(note_id, keys=True) if key in THREAD_RELATIONS]
        notes = self._notes(targets)
        return thread_text((i, notes[i].content) for i in dict.fromkeys(targets) if i in notes)

    def _refresh_text(self, ids: Iterable[str]) -> None:
        """Rewrite the full-text rows of these notes (inside the write transaction)."""
        ids = sorted(set(ids))
        notes = self._notes(ids)
        for note_id in ids:
            note = notes.get(note_id)
            row = self._db.execute("SELECT seq FROM notes WHERE id = ?", (note_id,)).fetchone()
            if note is not None and row is not None:
                write_text_row(self._db, int(row[0]), note, self._thread(note_id))

    def check_text_index(self, scope: Scope | None = None, repair: bool = False) -> dict[str, list[str]]:
        """Compare every note's full-text row with what it should hold; rebuild the bad ones."""
        with self._mutex:
            where, params = ("", ()) if scope is None else (" WHERE scope = ?", (scope.key,))
            missing: list[str] = []
            stale: list[str] = []
            cols = ", ".join(TEXT_COLUMNS)
            for seq, data in self._db.execute(f"SELECT seq, data FROM notes{where} ORDER BY seq", params).fetchall():
                note = self._parse(data)
                found = self._db.execute(f"SELECT {cols} FROM notes_fts WHERE rowid = ?", (seq,)).fetchone()
                if found is None:
                    missing.append(note.id)
                elif tuple(found) != text_row(note, self._thread(note.id)):
                    stale.append(note.id)
            fts_where = "" if scope is None else " AND f.scope = ?"
            orphan = [i for i, in self._db.execute(
                "SELECT f.note_id FROM notes_fts f WHERE NOT EXISTS "
                f"(SELECT 1 FROM notes n WHERE n.seq = f.rowid AND n.id = f.note_id){fts_where}", params)]
            if repair and (missing or stale or orphan):
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    self._db.execute(
                        "DELETE FROM notes_fts WHERE rowid IN (SELECT f.rowid FROM notes_fts f WHERE NOT EXISTS "
                        f"(SELECT 1 FROM notes n WHERE n.seq = f.rowid AND n.id = f.note_id){fts_where})", params)
                    self._refresh_text(missing + stale)
                    self._db.execute("COMMIT")
                except BaseException:
                    if self._db.in_transaction:
                        self._db.execute("ROLLBACK")
                    raise
            return {"missing": missing, "stale": stale, "orphan": sorted(orphan)}
