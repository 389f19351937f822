"""The embedded store's ``graph.sqlite``: its tables, full-text rows and numbered migrations.

The schema version is SQLite's ``PRAGMA user_version``: 0 for a new file (or
one written before versions existed), N once migration N ran. :func:`migrate`
applies the missing migrations in order, each in one transaction together with
its version bump, so a crash mid-migration leaves the previous version intact
and the next open retries. A file of a newer version than this zettelmem knows
is refused with :class:`~zettelmem.errors.SchemaVersionError`. Migrations are
append-only: never edit one that shipped, add the next number.

Full-text rows live in the FTS5 table ``notes_fts`` (porter stemmer), one per
note, its ``rowid`` the note's ``seq``: the note id and scope key (not indexed),
the text :data:`~zettelmem.stores.lexical.FIELDS`, and ``scope_token`` (one
indexed token per scope, which every query requires). :func:`write_text_row` is
the only writer.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass

from zettelmem.errors import SchemaVersionError
from zettelmem.models import Note
from zettelmem.stores.lexical import FIELDS, THREAD_RELATIONS, field_texts, scope_token, thread_text

__all__ = [
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "TEXT_COLUMNS",
    "Migration",
    "migrate",
    "schema_version",
    "stored_thread",
    "text_row",
    "write_text_row",
]


#: The columns of ``notes_fts`` after its rowid, in order.
TEXT_COLUMNS = ("note_id", "scope", *FIELDS, "scope_token")


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    what: str
    apply: Callable[[sqlite3.Connection], None]


def _v1_tables(db: sqlite3.Connection) -> None:
    """The tables of zettelmem 0.x before versions existed (no-op on such files)."""
    for stmt in (
        "CREATE TABLE IF NOT EXISTS notes (id TEXT PRIMARY KEY, scope TEXT NOT NULL, seq INTEGER NOT NULL, "
        "data TEXT NOT NULL)",
        "CREATE TABLE IF NOT EXISTS links (source TEXT NOT NULL, target TEXT NOT NULL, relation TEXT NOT NULL, "
        "scope TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (source, target, relation))",
        "CREATE TABLE IF NOT EXISTS changes (id TEXT PRIMARY KEY, note_id TEXT NOT NULL, scope TEXT NOT NULL, "
        "seq INTEGER NOT NULL, data TEXT NOT NULL)",
        "CREATE INDEX IF NOT EXISTS changes_note ON changes(note_id)",
        "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    ):
        db.execute(stmt)


def _v2_scopes_and_text(db: sqlite3.Connection) -> None:
    """Scope indexes (counts and pages in SQL) and the first full-text table (rebuilt by 3)."""
    for stmt in (
        "CREATE INDEX IF NOT EXISTS notes_scope_seq ON notes(scope, seq)",
        "CREATE INDEX IF NOT EXISTS links_scope ON links(scope)",
        "CREATE INDEX IF NOT EXISTS links_target ON links(target)",
        "CREATE INDEX IF NOT EXISTS changes_scope_seq ON changes(scope, seq)",
        "CREATE INDEX IF NOT EXISTS changes_note_seq ON changes(note_id, seq)",
        "CREATE VIRTUAL TABLE IF NOT EXISTS notes_fts USING fts5(note_id UNINDEXED, scope UNINDEXED, "
        "content, context, keywords, tags, entities, thread, tokenize = 'porter unicode61 remove_diacritics 2')",
    ):
        db.execute(stmt)


def _v3_scoped_text(db: sqlite3.Connection) -> None:
    """Full-text rows carry their scope as an indexed token, so a query matches one scope's rows only."""
    db.execute("DROP TABLE IF EXISTS notes_fts")
    db.execute(
        "CREATE VIRTUAL TABLE notes_fts USING fts5(note_id UNINDEXED, scope UNINDEXED, "
        "content, context, keywords, tags, entities, thread, scope_token, "
        "tokenize = 'porter unicode61 remove_diacritics 2')"
    )
    for seq, data in db.execute("SELECT seq, data FROM notes ORDER BY seq").fetchall():
        note = Note.model_validate_json(data)
        write_text_row(db, seq, note, stored_thread(db, note.id))


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "tables", _v1_tables),
    Migration(2, "scope indexes and full-text table", _v2_scopes_and_text),
    Migration(3, "full-text rows with a scope token", _v3_scoped_text),
)
SCHEMA_VERSION = MIGRATIONS[-1].version


def schema_version(db: sqlite3.Connection) -> int:
    return int(db.execute("PRAGMA user_version").fetchone()[0])


def migrate(db: sqlite3.Connection, where: str) -> list[int]:
    """Apply the missing migrations (each in its own transaction); return the versions applied.

    ``db`` must be in autocommit mode (``isolation_level=None``).
    """
    done: list[int] = []
    current = schema_version(db)
    if current > SCHEMA_VERSION:
        raise SchemaVersionError(
            f"{where} has schema version {current}; this zettelmem knows up to {SCHEMA_VERSION} "
            "(written by a newer version?): upgrade zettelmem"
        )
    for mig in MIGRATIONS:
        if mig.version <= current:
            continue
        db.execute("BEGIN IMMEDIATE")
        try:
            if schema_version(db) < mig.version:  # another opener may have raced us here
                mig.apply(db)
                db.execute(f"PRAGMA user_version = {int(mig.version)}")
                done.append(mig.version)
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
    return done


def stored_thread(db: sqlite3.Connection, note_id: str) -> str:
    """The thread text of ``note_id`` from the stored links and notes."""
    marks = ",".join("?" * len(THREAD_RELATIONS))
    rows = db.execute(
        "SELECT l.target, n.data FROM links l JOIN notes n ON n.id = l.target "
        f"WHERE l.source = ? AND l.relation IN ({marks})",
        (note_id, *THREAD_RELATIONS),
    ).fetchall()
    return thread_text((target, Note.model_validate_json(data).content) for target, data in rows)


def text_row(note: Note, thread: str) -> tuple[str, ...]:
    """The values of a full-text row (note id, scope key, :data:`FIELDS`, scope token)."""
    texts = field_texts(note, thread)
    return (note.id, note.scope.key, *(texts[f] for f in FIELDS), scope_token(note.scope.key))


def write_text_row(db: sqlite3.Connection, seq: int, note: Note, thread: str) -> None:
    """Replace the full-text row of the note stored at ``seq``."""
    db.execute("DELETE FROM notes_fts WHERE rowid = ?", (seq,))
    db.execute(
        f"INSERT INTO notes_fts(rowid, {', '.join(TEXT_COLUMNS)}) VALUES (?{', ?' * len(TEXT_COLUMNS)})",
        (seq, *text_row(note, thread)),
    )
