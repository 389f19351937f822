"""graph.sqlite: schema versions and migrations, full-text rows checked and repaired, notes off the heap."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from filelock import FileLock

from zettelmem import Memory, Scope, Settings
from zettelmem.config import HashingEmbeddingConfig
from zettelmem.errors import SchemaVersionError
from zettelmem.models import Link, Relation
from zettelmem.stores import sqlite_schema
from zettelmem.stores.networkx_store import NetworkXGraphStore
from zettelmem.testing import make_note

FIXTURE = Path(__file__).parent / "fixtures" / "graph_v0" / "graph.sqlite"  # written by make.py beside it
CHAT = Scope(user_id="fixture", agent_id="chat")


def _copy(tmp_path: Path) -> Path:
    path = tmp_path / "home" / "graph.sqlite"
    path.parent.mkdir()
    shutil.copy(FIXTURE, path)
    return path


def _version(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return int(db.execute("PRAGMA user_version").fetchone()[0])


def test_a_store_written_before_versions_is_migrated_on_open(tmp_path: Path):
    path = _copy(tmp_path)
    assert _version(path) == 0
    with sqlite3.connect(path) as db:
        assert not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'notes_fts'").fetchall()
    with NetworkXGraphStore(path) as store:
        assert store.count_all() == {"notes": 7, "links": 5, "changes": 3}
        assert store.check_text_index() == {"missing": [], "stale": [], "orphan": []}
        (kitten,) = store.search_text(CHAT, "kitten Miso", 1)
        assert "Miso" in store.get_note(CHAT, kitten[0]).content
        hits = [store.get_note(CHAT, i).content for i, _ in store.search_text(CHAT, "hiking", 5, "thread")]
        assert any(c.startswith("Ben: Yes, last Sunday!") for c in hits)  # found by the question it answers
        own = [store.get_note(CHAT, i).content for i, _ in store.search_text(CHAT, "hiking", 5, "note")]
        assert not any("Sunday" in c for c in own)
        other = store.search_text(Scope(user_id="other"), "volcano", 5)
        assert len(other) == 1
    assert _version(path) == sqlite_schema.SCHEMA_VERSION
    with NetworkXGraphStore(path) as store:  # a second open has nothing to do
        assert store.count_all(CHAT)["notes"] == 6
    with Memory(Settings(home=path.parent, embedding=HashingEmbeddingConfig())) as mem:
        assert "volcano" in mem.search("volcano view", scope=CHAT, k=1)[0].note.content


def test_a_newer_schema_is_refused(tmp_path: Path):
    path = _copy(tmp_path)
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version = {sqlite_schema.SCHEMA_VERSION + 1}")
    with pytest.raises(SchemaVersionError, match="newer"):
        NetworkXGraphStore(path)
    lock = FileLock(str(path) + ".lock")
    lock.acquire(timeout=0)  # the refused open released its lock
    lock.release()
    assert _version(path) == sqlite_schema.SCHEMA_VERSION + 1  # and changed nothing


def test_a_migration_that_fails_leaves_the_previous_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = _copy(tmp_path)
    calls = []

    def boom(*args: object) -> None:
        calls.append(args)
        if len(calls) == 3:
            raise RuntimeError("crash mid-migration")

    monkeypatch.setattr(sqlite_schema, "write_text_row", boom)
    with pytest.raises(RuntimeError):
        NetworkXGraphStore(path)
    last = sqlite_schema.SCHEMA_VERSION
    assert _version(path) == last - 1  # the earlier migrations committed, the last rolled back whole
    with sqlite3.connect(path) as db:
        assert "scope_token" not in {r[1] for r in db.execute("PRAGMA table_info(notes_fts)")}
    monkeypatch.undo()
    with NetworkXGraphStore(path) as store:
        assert store.check_text_index() == {"missing": [], "stale": [], "orphan": []}
    assert _version(path) == sqlite_schema.SCHEMA_VERSION


def test_check_finds_and_repair_rebuilds_full_text_rows(tmp_path: Path):
    home = tmp_path / "home"
    scope = Scope(user_id="u")
    with Memory(Settings(home=home, embedding=HashingEmbeddingConfig())) as mem:
        ids = [mem.add(f"the otter number {i} swims", scope=scope).note.id for i in range(4)]
        assert mem.check().ok
    db = sqlite3.connect(home / "graph.sqlite")
    seq = dict(db.execute("SELECT id, seq FROM notes").fetchall())
    db.execute("DELETE FROM notes_fts WHERE rowid = ?", (seq[ids[0]],))
    db.execute("UPDATE notes_fts SET content = 'a beaver' WHERE rowid = ?", (seq[ids[1]],))
    db.execute("INSERT INTO notes_fts(rowid, note_id, scope, content) VALUES (999999, 'ghost', ?, 'otter')",
               (scope.key,))
    db.commit()
    db.close()
    with Memory(Settings(home=home, embedding=HashingEmbeddingConfig())) as mem:
        report = mem.check()
        assert not report.ok
        assert (report.missing_text, report.stale_text, report.orphan_text) == ([ids[0]], [ids[1]], ["ghost"])
        assert report.missing_vectors == report.stale_vectors == report.orphan_vectors == []
        fixed = mem.check(repair=True)
        assert fixed.repaired == 3
        assert mem.check().ok
        found = {h.note.id for h in mem.search("otter", scope=scope, k=10)}
        assert found == set(ids)


def test_notes_live_in_sqlite_behind_a_bounded_cache(tmp_path: Path):
    scope = Scope(user_id="u")
    with NetworkXGraphStore(tmp_path / "graph.sqlite", cache_size=3) as store:
        notes = [make_note(scope, f"note {i}", i=i) for i in range(10)]
        store.put_notes(notes)
        a, b = notes[0], notes[1]
        store.put_links(scope, [Link(source=b.id, target=a.id, relation=Relation.ANSWERS)])
        assert len(store._cache) <= 3
        assert all(set(data) == {"scope"} for _, data in store.graph.nodes(data=True))  # topology only
        assert list(store.graph.edges(keys=True, data=True)) == [(b.id, a.id, "answers", {})]
        assert store.get_notes(scope, [n.id for n in notes]) == notes
        assert len(store._cache) <= 3
        assert store.list_notes(scope, limit=3, offset=8) == notes[8:]
        assert store.count_all(scope) == {"notes": 10, "links": 1, "changes": 0}
    with NetworkXGraphStore(tmp_path / "graph.sqlite", cache_size=0) as store:
        assert not store._cache and store.get_note(scope, a.id) == a and not store._cache
        assert store.get_links(scope, [a.id])[0].source == b.id
