"""Bad input gets a typed error and loses nothing already stored."""

from __future__ import annotations

import sqlite3

import pytest

from zettelmem import (
    ContentTooLarge,
    EmbeddingModelMismatch,
    EmptyContent,
    InvalidContent,
    Memory,
    NoteNotFound,
    Scope,
    Settings,
    StoreCorrupt,
    StoreLocked,
    ZettelmemError,
)
from zettelmem.config import HashingEmbeddingConfig
from zettelmem.errors import InvalidInput

S = Scope(user_id="u")


@pytest.fixture
def mem(tmp_path):
    m = Memory(Settings(home=tmp_path / "home", max_content_chars=1000))
    m.add("a memory that must survive every bad call", scope=S)
    yield m
    m.close()


def survivor_ok(m: Memory) -> None:
    notes = m.list(S)
    assert [n.content for n in notes] == ["a memory that must survive every bad call"]
    assert m.check().ok


@pytest.mark.parametrize(
    ("content", "error"),
    [
        ("", EmptyContent),
        ("   \n\t ", EmptyContent),
        ("x" * 1001, ContentTooLarge),
        ("nul \x00 byte", InvalidContent),
        (b"\xff\xfe not utf-8", InvalidContent),
        ("lone surrogate \ud800", InvalidContent),
        (None, InvalidContent),
        (42, InvalidContent),
    ],
)
def test_bad_content_is_refused(mem, content, error):
    with pytest.raises(error) as info:
        mem.add(content, scope=S)
    assert isinstance(info.value, ZettelmemError) and isinstance(info.value, ValueError)
    survivor_ok(mem)


def test_bytes_that_are_utf8_are_accepted(mem):
    note = mem.add("café in Zürich".encode(), scope=S).note
    assert note.content == "café in Zürich"


def test_a_bad_item_in_a_batch_writes_nothing(mem):
    with pytest.raises(EmptyContent):
        mem.add_many(["fine one", "", "fine two"], scope=S)
    survivor_ok(mem)


def test_hostile_tags_are_cleaned_or_refused(mem):
    note = mem.list(S)[0]
    change = mem.update(note.id, S, tags=["'; DROP TABLE notes; --", "<script>alert(1)</script>", "a\nb"])
    stored = mem.get(note.id, S).tags
    assert stored == ["'; DROP TABLE notes; --", "<script>alert(1)</script>", "a b"]
    assert change.after["tags"] == stored
    with pytest.raises(InvalidContent):
        mem.update(note.id, S, tags=["x" * 500])
    with pytest.raises(InvalidContent):
        mem.update(note.id, S, tags=[""])
    with pytest.raises(InvalidInput):
        mem.update(note.id, S, content="content is immutable")
    assert mem.search("DROP TABLE", scope=S)  # still a working store


def test_unknown_ids_are_typed(mem):
    with pytest.raises(NoteNotFound) as info:
        mem.get("does-not-exist", S)
    assert isinstance(info.value, KeyError)
    for call in (lambda: mem.history("nope", S), lambda: mem.delete(["nope"], S),
                 lambda: mem.update("nope", S, tags=["x"]), lambda: mem.links("nope", S)):
        with pytest.raises(NoteNotFound):
            call()
    with pytest.raises(InvalidInput):
        mem.search("   ", scope=S)
    survivor_ok(mem)


def test_second_process_is_locked_out(tmp_path, mem):
    home = mem.settings.home
    with pytest.raises(StoreLocked):
        Memory(Settings(home=home))
    survivor_ok(mem)


def test_corrupt_graph_file_is_a_clear_error(tmp_path):
    home = tmp_path / "c"
    with Memory(Settings(home=home)) as m:
        m.add("hello", scope=S)
    db = home / "graph.sqlite"
    for extra in (db.with_name("graph.sqlite-wal"), db.with_name("graph.sqlite-shm")):
        extra.unlink(missing_ok=True)
    db.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreCorrupt):
        Memory(Settings(home=home))
    # and the lock was released: a repaired folder opens again
    db.unlink()
    with Memory(Settings(home=home)) as m:
        assert m.stats()["notes"] == 0


def test_corrupt_record_is_a_clear_error(tmp_path):
    home = tmp_path / "r"
    with Memory(Settings(home=home)) as m:
        m.add("hello", scope=S)
    con = sqlite3.connect(home / "graph.sqlite")
    con.execute("UPDATE notes SET data = '{broken'")
    con.commit()
    con.close()
    with Memory(Settings(home=home)) as m, pytest.raises(StoreCorrupt, match="unreadable record"):
        m.list(S)  # notes are read on demand (not all held in memory): refused when read


def test_other_embedding_model_is_refused(tmp_path):
    home = tmp_path / "e"
    with Memory(Settings(home=home)) as m:
        m.add("hello", scope=S)
    with pytest.raises(EmbeddingModelMismatch, match="all-MiniLM"):
        Memory(Settings(home=home, embedding=HashingEmbeddingConfig(dims=64)))
    with Memory(Settings(home=home)) as m:
        assert m.stats()["notes"] == 1
