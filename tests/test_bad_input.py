"""Bad input gets a typed error and loses nothing already stored."""

from __future__ import annotations

import shutil
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
    # and the lock was released; without graph.sqlite the vectors alone do not make a store
    db.unlink()
    with pytest.raises(StoreCorrupt, match=r"graph\.sqlite is missing"):
        Memory(Settings(home=home))
    shutil.rmtree(home / "chroma")  # a new store, knowingly
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


# -- API arguments are checked at the boundary (issue 8, item 7) ------------------------------------


def _first(m: Memory):
    return m.list(S)[0]


@pytest.mark.parametrize("k", ["5", 2.5, -1, 0, True, None, 10_001])
def test_search_k_must_be_a_positive_int(mem, k):
    with pytest.raises(InvalidInput, match="k must be"):
        mem.search("memory", scope=S, k=k)


def test_search_where_scope_and_query_types(mem):
    with pytest.raises(InvalidInput, match="where must be"):
        mem.search("memory", scope=S, where={"tags_any": ["x"]})
    with pytest.raises(InvalidInput, match="scope must be a Scope"):
        mem.search("memory", scope="alice")
    with pytest.raises(InvalidContent, match="query"):
        mem.search("lone \ud800 surrogate", scope=S)
    with pytest.raises(InvalidInput, match="query"):
        mem.search(b"bytes", scope=S)
    with pytest.raises(InvalidInput, match="query"):
        mem.search("q" * 10_001, scope=S)
    survivor_ok(mem)


def test_get_as_of_must_be_a_datetime(mem):
    with pytest.raises(InvalidInput, match="as_of"):
        mem.get(_first(mem).id, S, as_of="yesterday")


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"tags": "pets"}, "tags must be a list"),
        ({"tags": None}, "tags must be a list"),
        ({"keywords": "k"}, "keywords must be a list"),
        ({"memory_type": "bogus"}, "memory_type must be one of"),
        ({"context": 7}, "context must be a string"),
        ({"tags": ["ok"], "rationale": "r" * 5000}, "rationale"),
        ({"tags": ["ok"], "expected_version": "1"}, "expected_version"),
    ],
)
def test_update_arguments(mem, fields, match):
    note = _first(mem)
    with pytest.raises(InvalidInput, match=match):
        mem.update(note.id, S, **fields)
    assert mem.get(note.id, S) == note
    assert mem.history(note.id, S) == []
    survivor_ok(mem)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"relation": "bogus"}, "relation must be one of"),
        ({"weight": 2.0}, "weight must be a number from 0 to 1"),
        ({"weight": float("nan")}, "weight must be a number from 0 to 1"),
        ({"weight": "0.5"}, "weight must be a number"),
        ({"rationale": "r" * 5000}, "rationale"),
        ({"rationale": "lone \udfff"}, "rationale"),
    ],
)
def test_link_arguments(mem, kwargs, match):
    other = mem.add("a second memory to link to", scope=S, evolve=False).note
    first = next(n for n in mem.list(S) if n.id != other.id)
    before = {lk.key for lk in mem.links(first.id, S)}
    with pytest.raises(InvalidInput, match=match):
        mem.link(first.id, other.id, S, **kwargs)
    assert {lk.key for lk in mem.links(first.id, S)} == before
    with pytest.raises(InvalidInput, match="relation"):
        mem.unlink(first.id, other.id, S, relation="bogus")


def test_delete_and_revert_need_ids(mem):
    note = _first(mem)
    mem.update(note.id, S, tags=["kept"])
    with pytest.raises(InvalidInput, match="note ids"):
        mem.delete(None, S)
    with pytest.raises(InvalidInput, match="note ids"):
        mem.delete({"id": note.id}, S)
    with pytest.raises(InvalidInput, match="change id"):
        mem.revert(None, S)  # used to revert the oldest change of the scope
    assert mem.get(note.id, S).tags[-1] == "kept"
    assert len(mem.list(S)) == 1


@pytest.mark.parametrize("size", [-1, 0, "8", 1.5])
def test_add_many_batch_size(mem, size):
    with pytest.raises(InvalidInput, match="batch_size"):
        mem.add_many(["would be dropped silently"], scope=S, batch_size=size)
    survivor_ok(mem)


@pytest.mark.parametrize(("limit", "offset"), [(-1, 0), (1, -2), ("3", 0), (None, None), (2.0, 0)])
def test_list_paging(mem, limit, offset):
    with pytest.raises(InvalidInput, match=r"limit|offset"):
        mem.list(S, limit=limit, offset=offset)


def test_scope_argument_type_everywhere(mem):
    note = _first(mem)
    for call in (lambda: mem.get(note.id, "u"), lambda: mem.list("u"), lambda: mem.history(note.id, {"user_id": "u"}),
                 lambda: mem.add("x", scope="u"), lambda: mem.delete([note.id], "u"), lambda: mem.stats("u"),
                 lambda: mem.evolve(None, "u")):
        with pytest.raises(InvalidInput, match="scope must be a Scope"):
            call()
    survivor_ok(mem)


# -- metadata is checked before the write path (item 4) -----------------------------------------------


class _Odd:
    pass


@pytest.mark.parametrize(
    ("metadata", "match"),
    [
        ({"x": _Odd()}, "only JSON values"),
        ({"x": {1, 2}}, "only JSON values"),
        ({"lone": "\ud800"}, "metadata value"),
        ({"\udc80": "key"}, "metadata key"),
        ({1: "int key"}, "keys must be strings"),
        ({"nan": float("nan")}, "NaN"),
        ({"big": "x" * 70_000}, "limit|characters"),
        ("not a dict", "metadata must be a dict"),
    ],
)
def test_bad_metadata_writes_nothing(mem, metadata, match):
    vectors_before = mem.stats()["vectors"]
    with pytest.raises(InvalidInput, match=match):
        mem.add("a memory with bad metadata", scope=S, metadata=metadata)
    with pytest.raises(InvalidInput):
        mem.add_many(["fine", {"content": "bad", "metadata": metadata}], scope=S)
    assert mem.stats()["vectors"] == vectors_before  # no orphan vector
    survivor_ok(mem)


def test_lone_surrogate_in_provenance_writes_nothing(mem):
    from zettelmem.models import Provenance

    with pytest.raises(InvalidInput):
        mem.add("provenance with a lone surrogate", scope=S, provenance=Provenance(speaker="\ud800"))
    survivor_ok(mem)


def test_good_metadata_round_trips(mem):
    meta = {"photo": "p.jpg", "n": 3, "f": 0.5, "ok": True, "none": None, "nested": {"list": [1, "two", [3]]}}
    note = mem.add("a memory with metadata", scope=S, metadata=meta).note
    assert mem.get(note.id, S).metadata == meta


# -- machine-made labels are cleaned, user-given ones refused (item 8) --------------------------------


def test_long_token_in_content_is_not_refused(mem):
    token = "pneumonoultramicroscopicsilicovolcanoconiosis" + "supercalifragilistic" * 2  # 85 letters
    note = mem.add(f"the doctor said {token} twice about {token}", scope=S).note
    stored = mem.get(note.id, S)
    assert all(len(x) <= 64 for x in [*stored.keywords, *stored.tags, *stored.entities])
    assert stored.content.count(token) == 2
    with pytest.raises(InvalidContent, match="longer than 64"):
        mem.add("user-given tags are refused, not cut", scope=S, tags=["t" * 65])
    with pytest.raises(InvalidContent, match="empty tag"):
        mem.add("user-given tags are refused, not cut", scope=S, tags=[""])
    assert len(mem.list(S)) == 2
