"""The pure Cypher compiler and migration planner of the Neo4j backend (no server needed)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from zettelmem.errors import NoteNotFound, SchemaVersionError, StoreError
from zettelmem.filters import Filter
from zettelmem.models import BuiltBy, Change, Link, MemoryType, Note, Relation, Scope
from zettelmem.stores import base as ops
from zettelmem.stores.neo4j import cypher
from zettelmem.stores.neo4j.migrations import (
    Migration,
    _plan,
    checksum,
    load_migrations,
    migrations_dir,
    split_statements,
)

T0 = datetime(2024, 1, 1, tzinfo=UTC)
EVIL = "x'}) DETACH DELETE n //\"$scope`\\"
SCOPE = Scope(user_id=EVIL, agent_id="a/b", namespace="ns")


def _note(i: int = 0, **kw: Any) -> Note:
    return Note(id=f"{EVIL}{i}", content=EVIL, scope=SCOPE, tags=[EVIL], created_at=T0, **kw)


def _every_op() -> list[Any]:
    n = _note()
    link = Link(source=n.id, target=_note(1).id, relation=Relation.SUPPORTS, rationale=EVIL)
    chg = Change(note_id=n.id, scope=SCOPE, version_before=1, version_after=2, before={}, after={}, rationale=EVIL)
    flt = Filter(memory_types=(MemoryType.CORE,), tags_any=(EVIL,), tags_all=(EVIL,), since=T0, until=T0,
                 valid_at=T0, built_by="llm")
    return [
        ops.PutNotes((n,)), ops.GetNotes(SCOPE, (n.id,)), ops.ListNotes(SCOPE, flt, 5, 2),
        ops.DeleteNotes(SCOPE, (n.id,)), ops.PutLinks(SCOPE, (link,)), ops.DeleteLinks(SCOPE, ((n.id, EVIL, EVIL),)),
        ops.GetLinks(SCOPE, (n.id,), "in"), ops.PutChanges(SCOPE, (chg,)), ops.GetChanges(SCOPE, note_id=EVIL),
        ops.GetChanges(SCOPE, change_id=EVIL), ops.GetChanges(SCOPE), ops.CountAll(SCOPE), ops.CountAll(),
        ops.ListScopes(), ops.GetMeta(EVIL), ops.PutMeta(EVIL, EVIL),
    ]


@pytest.mark.parametrize("op", _every_op(), ids=lambda op: type(op).__name__)
def test_user_values_travel_only_as_parameters(op: Any) -> None:
    statements = cypher.compile_op(op)
    assert statements
    for st in statements:
        assert isinstance(st, tuple) and len(st) == 2  # a (query, params) pair
        assert EVIL not in st.query and "a/b" not in st.query and "DETACH DELETE n //" not in st.query
        for name in set(re.findall(r"\$([A-Za-z_]\w*)", st.query)):
            assert name in st.params, f"${name} unbound in {st.query}"


def test_scope_is_in_every_scoped_statement() -> None:
    for op in _every_op():
        if isinstance(op, ops.PutNotes | ops.PutChanges | ops.CountAll | ops.ListScopes | ops.GetMeta | ops.PutMeta):
            continue  # rows carry their own scope / store-level ops
        for st in cypher.compile_op(op):
            assert st.params["scope"] == SCOPE.key and "$scope" in st.query


def test_writes_are_chunked_unwinds() -> None:
    notes = tuple(_note(i) for i in range(1203))
    statements = cypher.compile_op(ops.PutNotes(notes), batch_size=500)
    writes = [st for st in statements if "MERGE (n:Note" in st.query]
    assert [len(st.params["rows"]) for st in writes] == [500, 500, 203]
    assert all("UNWIND" in st.query for st in statements)
    links = tuple(Link(source=notes[i].id, target=notes[i + 1].id) for i in range(1202))
    assert len(cypher.compile_op(ops.PutLinks(SCOPE, links), batch_size=1000)) == 4  # check + write, twice


def test_note_properties_feed_the_filters() -> None:
    plain = cypher.note_props(_note())
    assert plain["t_event"] == plain["t_created"] == T0.timestamp()
    assert plain["valid_from"] is None and plain["valid_to"] is None and plain["built_by_kind"] == "offline"
    note = _note(event_time=T0 - timedelta(days=1), valid_from=T0, valid_to=T0 + timedelta(1),
                 built_by=BuiltBy(kind="llm"), metadata={"deep": {"x": [1]}})
    dated = cypher.note_props(note)
    assert dated["t_event"] == (T0 - timedelta(days=1)).timestamp()
    assert dated["valid_to"] == (T0 + timedelta(1)).timestamp()
    assert dated["built_by_kind"] == "llm" and dated["scope"] == SCOPE.key
    for value in dated.values():  # only values Neo4j can store as properties
        assert value is None or isinstance(value, str | int | float | datetime) or (
            isinstance(value, list) and all(isinstance(v, str) for v in value))
    assert Note.model_validate_json(dated["data"]) == note


def test_list_notes_limit_and_filter_parameters() -> None:
    (st,) = cypher.compile_op(ops.ListNotes(SCOPE))
    assert "LIMIT" not in st.query and "true" in st.query and st.params["offset"] == 0
    (st,) = cypher.compile_op(ops.ListNotes(SCOPE, Filter(tags_any=("a",)), limit=3, offset=4))
    assert st.params["limit"] == 3 and st.params["offset"] == 4 and st.params["f_tags_any"] == ["a"]
    assert "ORDER BY n.seq" in st.query


def test_decode_results() -> None:
    a = _note(1)
    got = cypher.decode(ops.GetNotes(SCOPE, ("x", a.id, a.id)), [[{"id": a.id, "data": a.model_dump_json()}]])
    assert got == [None, a, a]
    link = Link(source="s", target="t")
    rows = [{"key": "k", "data": link.model_dump_json()}] * 2
    assert cypher.decode(ops.GetLinks(SCOPE, ("s",)), [rows]) == [link]
    assert cypher.decode(ops.DeleteNotes(SCOPE, ("s",)), [[], [{"deleted": 2}], [], [{"deleted": 1}]]) == 3
    counts = {"notes": 1, "links": 2, "changes": 3}
    assert cypher.decode(ops.CountAll(), [[counts]]) == counts
    keys = [Scope(user_id="b").key, Scope(user_id="a").key]
    assert cypher.decode(ops.ListScopes(), [[{"scope": k} for k in keys]]) == [Scope(user_id="a"), Scope(user_id="b")]
    assert cypher.decode(ops.GetMeta("k"), [[]]) is None
    with pytest.raises(NoteNotFound, match="missing-end"):
        cypher.decode(ops.PutLinks(SCOPE, (link,)), [[{"missing": "missing-end"}], []])
    with pytest.raises(StoreError, match="another scope"):
        cypher.decode(ops.PutNotes((a,)), [[{"conflict": a.id, "held_by": "x"}], []])


def test_op_kinds_and_bad_input() -> None:
    assert cypher.is_write(ops.PutMeta("k", "v")) and not cypher.is_write(ops.GetMeta("k"))
    with pytest.raises(ValueError, match="direction"):
        cypher.compile_op(ops.GetLinks(SCOPE, ("a",), "sideways"))  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        cypher.compile_op(object())  # type: ignore[arg-type]


# -- migrations -------------------------------------------------------------------------
def test_shipped_migrations_are_numbered_idempotent_ddl() -> None:
    found = load_migrations()
    assert [m.id[:4] for m in found] == [f"{i:04d}" for i in range(1, len(found) + 1)]
    for m in found:
        assert m.statements and all("IF NOT EXISTS" in s for s in m.statements)
    assert (migrations_dir() / "0001_constraints.cypher").is_file()


def test_split_statements_and_checksum() -> None:
    text = "// header; with a semicolon\nCREATE A;\n\n  // c\nCREATE B\n  ON x;\n"
    assert split_statements(text) == ("CREATE A", "CREATE B\n  ON x")
    assert checksum("a\r\nb") == checksum("a\nb") != checksum("a\nc")


def test_plan_refuses_edited_or_unknown_migrations() -> None:
    known = [Migration("0001_a", "c1", ("X",)), Migration("0002_b", "c2", ("Y",))]
    assert [m.id for m in _plan({}, known, "db")] == ["0001_a", "0002_b"]
    assert [m.id for m in _plan({"0001_a": "c1"}, known, "db")] == ["0002_b"]
    with pytest.raises(SchemaVersionError, match="edited"):
        _plan({"0001_a": "other"}, known, "db")
    with pytest.raises(SchemaVersionError, match="newer"):
        _plan({"0003_c": "c3"}, known, "db")


def test_load_migrations_rejects_duplicate_numbers(tmp_path: Any) -> None:
    (tmp_path / "0001_a.cypher").write_text("CREATE INDEX a IF NOT EXISTS FOR (n:A) ON (n.x);")
    (tmp_path / "0001_b.cypher").write_text("CREATE INDEX b IF NOT EXISTS FOR (n:B) ON (n.x);")
    (tmp_path / "README.md").write_text("ignored")
    with pytest.raises(SchemaVersionError, match="share a number"):
        load_migrations(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SchemaVersionError, match="no migrations"):
        load_migrations(empty)
