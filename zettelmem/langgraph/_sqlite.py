"""``langgraph.sqlite``: the LangGraph store's own tables, beside the memory graph.

One SQLite file in WAL mode (``synchronous=NORMAL``): every write batch is one
transaction, so what ``batch`` returned survives ``kill -9``. Tables::

    items       (ns, key) -> value JSON, index spec, created_at, updated_at, seq
    vectors     (ns, key, path) -> float32 embedding of one indexed text
    namespaces  ns -> number of items (kept by triggers; list_namespaces reads it)
    notes       (ns, key) -> the zettelmem note built from the item (notes=True)
    outbox      items whose note must be (re)built, written in the item's transaction
    meta        schema version, index dims

``ns`` is the row encoding of :mod:`zettelmem.langgraph._codec`. ``seq`` grows with
every write, so "most recently updated first" is a total order. Several processes
may open the file; every statement runs under one lock per connection.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from zettelmem.errors import SchemaVersionError, StoreCorrupt, StoreError
from zettelmem.langgraph._codec import prefix_clause

__all__ = ["SCHEMA_VERSION", "ItemDB", "Row", "WriteOp"]

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS items (
    ns TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, idx TEXT,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL, seq INTEGER NOT NULL,
    PRIMARY KEY (ns, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS items_seq ON items(seq);
CREATE TABLE IF NOT EXISTS vectors (
    ns TEXT NOT NULL, key TEXT NOT NULL, path TEXT NOT NULL, vec BLOB NOT NULL, UNIQUE (ns, key, path)
);
CREATE TABLE IF NOT EXISTS namespaces (ns TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS notes (
    ns TEXT NOT NULL, key TEXT NOT NULL, note_id TEXT NOT NULL, scope TEXT NOT NULL, text_hash TEXT NOT NULL,
    PRIMARY KEY (ns, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, ns TEXT NOT NULL, key TEXT NOT NULL);
CREATE TRIGGER IF NOT EXISTS items_ns_insert AFTER INSERT ON items BEGIN
    INSERT INTO namespaces(ns, n) VALUES (new.ns, 1) ON CONFLICT(ns) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER IF NOT EXISTS items_ns_delete AFTER DELETE ON items BEGIN
    UPDATE namespaces SET n = n - 1 WHERE ns = old.ns;
    DELETE FROM namespaces WHERE ns = old.ns AND n <= 0;
END;
"""

_COLS = "ns, key, value, idx, created_at, updated_at"


@dataclass(frozen=True, slots=True)
class Row:
    ns: str
    key: str
    value: str  # JSON
    idx: str | None  # None: the store's fields; "false"; or a JSON list of paths
    created_at: str
    updated_at: str


@dataclass(frozen=True, slots=True)
class WriteOp:
    """One deduplicated put (``value`` JSON) or delete (``value`` None)."""

    ns: str
    key: str
    value: str | None
    idx: str | None = None
    vectors: tuple[tuple[str, bytes], ...] = ()  # (path, float32 bytes)


def _row(r: Sequence[Any]) -> Row:
    return Row(r[0], r[1], r[2], r[3], r[4], r[5])


class ItemDB:
    """The SQLite side of :class:`~zettelmem.langgraph.ZettelStore` (thread-safe)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.lock = threading.RLock()
        self._last = datetime.min.replace(tzinfo=UTC)
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            found = self.get_meta("schema_version")
            if found is None:
                self.put_meta("schema_version", str(SCHEMA_VERSION))
            elif int(found) > SCHEMA_VERSION:
                raise SchemaVersionError(
                    f"{self.path} has schema version {found}; this zettelmem reads {SCHEMA_VERSION}"
                )
        except sqlite3.DatabaseError as exc:
            self.close()
            raise StoreCorrupt(f"cannot open LangGraph store {self.path}: {exc}") from exc
        except BaseException:
            self.close()
            raise
        self.closed = False

    def close(self) -> None:
        with self.lock:
            self.closed = True
            db = getattr(self, "_db", None)
            if db is not None:
                db.close()

    # -- transactions ---------------------------------------------------------------------
    @contextmanager
    def session(self, write: bool, snapshot: bool = True) -> Iterator[sqlite3.Connection]:
        """Hold the lock; a write session is one ``BEGIN IMMEDIATE`` transaction."""
        with self.lock:
            if self.closed:
                raise StoreError(f"the LangGraph store {self.path} is closed")
            db = self._db
            begun = write or snapshot
            if begun:
                db.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield db
            except BaseException:
                if begun and db.in_transaction:
                    db.execute("ROLLBACK")
                raise
            if begun:
                try:
                    db.execute("COMMIT")
                except sqlite3.DatabaseError as exc:
                    if db.in_transaction:
                        db.execute("ROLLBACK")
                    raise StoreError(f"LangGraph store write failed: {exc}") from exc

    def now(self) -> str:
        """A UTC timestamp that strictly increases across this store's writes."""
        t = datetime.now(UTC)
        if t <= self._last:
            t = self._last + timedelta(microseconds=1)
        self._last = t
        return t.isoformat(timespec="microseconds")

    # -- reads (inside a session) -----------------------------------------------------------
    @staticmethod
    def get(db: sqlite3.Connection, ns: str, key: str) -> Row | None:
        r = db.execute(f"SELECT {_COLS} FROM items WHERE ns = ? AND key = ?", (ns, key)).fetchone()
        return _row(r) if r else None

    @staticmethod
    def scan(db: sqlite3.Connection, prefix: tuple[str, ...], limit: int = -1, offset: int = 0) -> Iterator[Row]:
        """Items under ``prefix``, most recently updated first."""
        where, params = prefix_clause(prefix)
        cur = db.execute(
            f"SELECT {_COLS} FROM items WHERE {where} ORDER BY seq DESC LIMIT ? OFFSET ?",
            (*params, limit, offset),
        )
        for r in cur:
            yield _row(r)

    @staticmethod
    def vectors(db: sqlite3.Connection, prefix: tuple[str, ...]) -> dict[tuple[str, str], list[bytes]]:
        where, params = prefix_clause(prefix)
        out: dict[tuple[str, str], list[bytes]] = {}
        for ns, key, vec in db.execute(f"SELECT ns, key, vec FROM vectors WHERE {where}", params):
            out.setdefault((ns, key), []).append(vec)
        return out

    @staticmethod
    def namespaces(db: sqlite3.Connection, prefix: tuple[str, ...]) -> list[str]:
        where, params = prefix_clause(prefix)
        return [r[0] for r in db.execute(f"SELECT ns FROM namespaces WHERE {where}", params)]

    # -- writes (inside a write session) --------------------------------------------------
    def apply(self, db: sqlite3.Connection, writes: Sequence[WriteOp], outbox: bool) -> None:
        if not writes:
            return
        seq = db.execute("SELECT coalesce(max(seq), 0) FROM items").fetchone()[0]
        for w in writes:
            db.execute("DELETE FROM vectors WHERE ns = ? AND key = ?", (w.ns, w.key))
            if w.value is None:
                db.execute("DELETE FROM items WHERE ns = ? AND key = ?", (w.ns, w.key))
            else:
                seq += 1
                now = self.now()
                db.execute(
                    "INSERT INTO items(ns, key, value, idx, created_at, updated_at, seq) VALUES (?,?,?,?,?,?,?) "
                    "ON CONFLICT(ns, key) DO UPDATE SET value = excluded.value, idx = excluded.idx, "
                    "updated_at = excluded.updated_at, seq = excluded.seq",
                    (w.ns, w.key, w.value, w.idx, now, now, seq),
                )
                if w.vectors:
                    db.executemany(
                        "INSERT OR REPLACE INTO vectors(ns, key, path, vec) VALUES (?,?,?,?)",
                        [(w.ns, w.key, path, vec) for path, vec in w.vectors],
                    )
            if outbox:
                db.execute("INSERT INTO outbox(ns, key) VALUES (?, ?)", (w.ns, w.key))

    @staticmethod
    def replace_vectors(db: sqlite3.Connection, writes: Sequence[WriteOp]) -> None:
        """Swap the vectors of items that still exist (values and timestamps untouched)."""
        for w in writes:
            if db.execute("SELECT 1 FROM items WHERE ns = ? AND key = ?", (w.ns, w.key)).fetchone() is None:
                continue
            db.execute("DELETE FROM vectors WHERE ns = ? AND key = ?", (w.ns, w.key))
            db.executemany("INSERT INTO vectors(ns, key, path, vec) VALUES (?,?,?,?)",
                           [(w.ns, w.key, path, vec) for path, vec in w.vectors])

    # -- meta ----------------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        with self.lock:
            r = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
            return r[0] if r else None

    def put_meta(self, key: str, value: str) -> None:
        with self.lock:
            self._db.execute(
                "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    def count(self) -> int:
        with self.lock:
            return int(self._db.execute("SELECT count(*) FROM items").fetchone()[0])
