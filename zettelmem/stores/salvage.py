"""Salvage an embedded graph store: quarantine the records that cannot be read, keep the rest.

One unreadable note record, or a link row pointing at a missing note, must not
make the whole store unreadable. :func:`salvage` works on the SQLite file
directly (under the store's folder lock, so never beside a running
``Memory``), in one transaction:

* a note row whose JSON does not parse into a :class:`~zettelmem.models.Note`,
  or whose id or scope disagree with its columns;
* a link row that does not parse, or whose ends are not readable notes of its
  scope;
* a change row that does not parse, or whose note is gone,

are moved into the ``quarantine`` table (a quarantined note's full-text row, if
the store has ``notes_fts``, is dropped: it is rebuilt from the note) (kind, key, the raw data, the reason,
when), never deleted, and listed in the returned :class:`SalvageReport`.
``zettelmem check --repair`` runs it before opening an embedded store; the
vectors of quarantined notes are then orphans that the repair removes.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from filelock import FileLock, Timeout
from pydantic import ValidationError

from zettelmem.errors import StoreCorrupt, StoreLocked
from zettelmem.models import Change, Link, Note

__all__ = ["QUARANTINE_TABLE", "Quarantined", "SalvageReport", "quarantined", "salvage"]

QUARANTINE_TABLE = "quarantine"
_SCHEMA = f"""CREATE TABLE IF NOT EXISTS {QUARANTINE_TABLE} (
    n INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, key TEXT NOT NULL, data TEXT,
    reason TEXT NOT NULL, at TEXT NOT NULL)"""


@dataclass(frozen=True)
class Quarantined:
    """One record moved aside: ``kind`` is note, link or change."""

    kind: str
    key: str
    reason: str


@dataclass
class SalvageReport:
    """What :func:`salvage` read and what it moved into quarantine."""

    notes: int = 0
    links: int = 0
    changes: int = 0
    quarantined: list[Quarantined] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.quarantined


def _why(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        return f"unreadable: {first.get('msg')} at {'.'.join(str(p) for p in first.get('loc', ())) or 'top'}"
    return f"unreadable: {exc}"


def _tables(db: sqlite3.Connection) -> set[str]:
    return {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def salvage(path: str | Path) -> SalvageReport:
    """Quarantine every unreadable or dangling record of the graph store at ``path``.

    Raises:
        StoreLocked: the store is open in another process.
        StoreCorrupt: the file is not an SQLite database of this store at all.
    """
    path = Path(path)
    report = SalvageReport()
    if not path.exists():
        return report
    lock = FileLock(str(path) + ".lock")
    try:
        lock.acquire(timeout=0)
    except Timeout as exc:
        raise StoreLocked(f"{path.parent} is open in another process (lock {lock.lock_file})") from exc
    try:
        db = sqlite3.connect(path, isolation_level=None)
        try:
            if not {"notes", "links", "changes"} <= _tables(db):
                return report
            db.execute("BEGIN IMMEDIATE")
            db.execute(_SCHEMA)
            _salvage(db, report)
            db.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise StoreCorrupt(f"cannot salvage {path}: {exc} (restore it from a backup)") from exc
        finally:
            db.close()
    finally:
        lock.release()
    return report


def _salvage(db: sqlite3.Connection, report: SalvageReport) -> None:
    now = datetime.now(UTC).isoformat()
    fts = "notes_fts" in _tables(db)  # full-text rows (rowid = the note's seq) go with their note
    moved: list[tuple[str, str, str | None, str, str]] = []
    notes: dict[str, str] = {}  # readable note id -> scope key
    for note_id, scope, seq, data in db.execute("SELECT id, scope, seq, data FROM notes").fetchall():
        try:
            note = Note.model_validate_json(data)
            if note.id != note_id or note.scope.key != scope:
                raise ValueError(f"the record says id {note.id!r} in scope {note.scope}, its row {note_id!r}")
        except (ValidationError, ValueError, TypeError) as exc:
            moved.append(("note", str(note_id), data, _why(exc), now))
            db.execute("DELETE FROM notes WHERE id = ?", (note_id,))
            if fts:
                db.execute("DELETE FROM notes_fts WHERE rowid = ?", (seq,))
            continue
        notes[note_id] = scope
    report.notes = len(notes)
    for source, target, relation, scope, data in db.execute(
        "SELECT source, target, relation, scope, data FROM links"
    ).fetchall():
        key = f"{source}->{target} ({relation})"
        try:
            Link.model_validate_json(data)
            missing = [end for end in (source, target) if notes.get(end) != scope]
            if missing:
                raise ValueError(f"points at {', '.join(missing)}, not a readable note of its scope")
        except (ValidationError, ValueError, TypeError) as exc:
            moved.append(("link", key, data, _why(exc) if isinstance(exc, ValidationError) else f"dangling: {exc}",
                          now))
            db.execute("DELETE FROM links WHERE source = ? AND target = ? AND relation = ?", (source, target, relation))
            continue
        report.links += 1
    for change_id, note_id, data in db.execute("SELECT id, note_id, data FROM changes").fetchall():
        try:
            Change.model_validate_json(data)
            if note_id not in notes:
                raise ValueError(f"belongs to note {note_id}, which is not a readable note")
        except (ValidationError, ValueError, TypeError) as exc:
            moved.append(("change", str(change_id), data,
                          _why(exc) if isinstance(exc, ValidationError) else f"dangling: {exc}", now))
            db.execute("DELETE FROM changes WHERE id = ?", (change_id,))
            continue
        report.changes += 1
    db.executemany(f"INSERT INTO {QUARANTINE_TABLE}(kind, key, data, reason, at) VALUES (?,?,?,?,?)", moved)
    report.quarantined = [Quarantined(kind, key, reason) for kind, key, _, reason, _ in moved]


def quarantined(path: str | Path) -> list[Quarantined]:
    """Every record ever quarantined in the store at ``path`` (read-only)."""
    path = Path(path)
    if not path.exists():
        return []
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        if QUARANTINE_TABLE not in _tables(db):
            return []
        rows = db.execute(f"SELECT kind, key, reason FROM {QUARANTINE_TABLE} ORDER BY n").fetchall()
    finally:
        db.close()
    return [Quarantined(*r) for r in rows]
