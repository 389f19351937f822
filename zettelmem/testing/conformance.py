"""The one GraphStore conformance suite, reusable by every backend (needs pytest, hypothesis).

Subclass :class:`GraphStoreConformance` in a test module and provide a ``store``
fixture; every test then runs against that backend::

    class TestMyStore(GraphStoreConformance):
        @pytest.fixture
        def store(self, tmp_path):
            with MyStore(tmp_path) as s:
                yield s

Each test works in its own random scopes (``new_scope``) and deletes what it
wrote, so a shared server can host the suite; override :meth:`purge` to remove
what the contract cannot (meta keys, stray changes). The reference semantics are
:mod:`zettelmem.filters`' ``predicate``; ``test_filter_compilers_agree`` checks
the backend and ``chroma_where`` (on an in-memory Chroma) against it.

The suite also drives the engine over the backend through ``Memory`` (truth
maintenance, duplicates, forgetting, cold-note demotion), inherited from
:class:`~zettelmem.testing.truth.TruthConformance`: a backend other than the
embedded NetworkX store overrides its ``open_memory`` (and may override ``traces``).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zettelmem.errors import ChangeNotFound, NoteNotFound, StoreError
from zettelmem.filters import Filter, chroma_where, predicate
from zettelmem.models import BuiltBy, Change, Link, MemoryType, Note, Provenance, Relation, Scope
from zettelmem.stores.base import (
    DeleteNotes,
    GetChanges,
    GetLinks,
    GetNotes,
    GraphStore,
    ListNotes,
    PutChanges,
    PutLinks,
    PutMeta,
    PutNotes,
)
from zettelmem.testing.truth import TruthConformance
from zettelmem.vectors.base import vector_metadata

__all__ = ["T0", "GraphStoreConformance", "drop_chroma_collection", "make_note", "purge_neo4j"]

T0 = datetime(2024, 1, 1, tzinfo=UTC)
TAGS = ("alpha", "beta", "gamma", "delta")


def make_note(scope: Scope, content: str = "note", *, i: int = 0, **kw: Any) -> Note:
    """A note with deterministic times (``T0 + i`` hours) unless given."""
    kw.setdefault("created_at", T0 + timedelta(hours=i))
    kw.setdefault("updated_at", kw["created_at"])
    return Note(content=content, scope=scope, **kw)


def change(note: Note, i: int = 0, **kw: Any) -> Change:
    kw.setdefault("created_at", T0 + timedelta(minutes=i))
    return Change(note_id=note.id, scope=note.scope, version_before=i + 1, version_after=i + 2,
                  before={"tags": [f"v{i}"]}, after={"tags": [f"v{i + 1}"]}, **kw)


def purge_neo4j(store: Any, scopes: list[Scope], tag: str) -> None:
    """Remove every node of these scopes, and meta keys containing ``tag``, from a Neo4j store."""
    keys = [s.key for s in scopes]
    for label in ("Change", "Note"):  # in slices: one huge transaction would exhaust a small server's memory
        query = (f"MATCH (x:{label}) WHERE x.scope IN $keys WITH x LIMIT 2000 "
                 "DETACH DELETE x RETURN count(*) AS n")
        while store.run_cypher(query, {"keys": keys})[0]["n"]:
            pass
    store.run_cypher("MATCH (m:ZmMeta) WHERE m.key CONTAINS $tag DELETE m", {"tag": tag})


def drop_chroma_collection(client: Any, name: str) -> None:
    """Delete a Chroma collection, its records first.

    Chroma 1.x ``delete_collection`` leaves list-valued metadata behind, and the
    records of the next collection inherit it (chroma-core/chroma#7594): a note
    without tags would then match ``tags $contains``. Deleting the records first
    cleans those rows.
    """
    col = client.get_collection(name)
    while ids := col.get(include=[], limit=5000)["ids"]:
        col.delete(ids=ids)
    client.delete_collection(name)


# -- hypothesis strategies for the filter algebra -------------------------------------
_INSTANTS = [T0 + timedelta(hours=h) for h in (0, 1, 2, 5)]
_times = st.sampled_from(_INSTANTS) | st.datetimes(
    min_value=datetime(2023, 12, 31), max_value=datetime(2024, 1, 2), timezones=st.just(UTC))
_tagsets = st.lists(st.sampled_from(TAGS), unique=True, max_size=3)
_kinds = st.sampled_from(["offline", "llm", "user"])


@st.composite
def _notes(draw: Any) -> list[dict[str, Any]]:
    specs: list[dict[str, Any]] = draw(st.lists(st.fixed_dictionaries({
        "memory_type": st.sampled_from(list(MemoryType)),
        "tags": _tagsets,
        "created_at": _times,
        "event_time": st.none() | _times,
        "valid_from": st.none() | _times,
        "valid_to": st.none() | _times,
        "kind": _kinds,
    }), max_size=7))
    return specs


_filters = st.builds(
    Filter,
    memory_types=st.none() | st.lists(st.sampled_from(list(MemoryType)), unique=True, max_size=3).map(tuple),
    tags_any=st.none() | _tagsets.map(tuple),
    tags_all=st.none() | _tagsets.map(tuple),
    since=st.none() | _times,
    until=st.none() | _times,
    time_field=st.sampled_from(["event_time", "created_at"]),
    valid_at=st.none() | _times,
    built_by=st.none() | _kinds,
    current=st.none() | st.booleans(),
)


class GraphStoreConformance(TruthConformance):
    """The behaviour every GraphStore must share with the NetworkX reference (and the engine over it)."""

    #: True when the store holds only what the current test wrote (exact global counts).
    exclusive: bool = False

    @pytest.fixture
    def store(self) -> Iterator[GraphStore]:
        raise NotImplementedError("provide a `store` fixture")

    def purge(self, store: GraphStore, scopes: list[Scope], tag: str) -> None:
        """Remove what the contract cannot delete (override for shared servers)."""

    @pytest.fixture
    def tag(self) -> str:
        return uuid.uuid4().hex[:10]

    @pytest.fixture
    def new_scope(self, store: GraphStore, tag: str) -> Iterator[Callable[..., Scope]]:
        made: list[Scope] = []

        def make(user: str = "u", agent: str = "default", namespace: str = "default") -> Scope:
            made.append(Scope(user_id=f"zmt-{tag}-{user}", agent_id=agent, namespace=namespace))
            return made[-1]

        yield make
        for scope in made:
            ids = [n.id for n in store.list_notes(scope)]
            if ids:
                store.delete_notes(scope, ids)
        self.purge(store, made, tag)
        assert all(store.count_all(s) == {"notes": 0, "links": 0, "changes": 0} for s in made)

    @pytest.fixture
    def scope(self, new_scope: Callable[..., Scope]) -> Scope:
        return new_scope()

    # -- notes ----------------------------------------------------------------------
    def test_roundtrip_is_exact(self, store: GraphStore, scope: Scope) -> None:
        full = make_note(
            scope, "Zoë said \"hi\" \\ {x} $p '; MATCH (n) DETACH DELETE n //", i=3,
            keywords=["k1", "ключ"], tags=["t1", "t 2"], context="ctx ✓", memory_type=MemoryType.CORE,
            entities=["Zoë"], event_time=T0 - timedelta(days=3, microseconds=7), valid_from=T0,
            valid_to=T0 + timedelta(days=9), version=4,
            built_by=BuiltBy(kind="llm", agent="builder", version="2", model="m", fallback_reason=None),
            provenance=Provenance(source="msg-1", session="s", speaker="Zoë", turn=3, extra={"a": "b"}),
            metadata={"n": 1, "nested": {"x": [1, 2.5, None]}}, access_count=2, last_accessed=T0,
        )
        bare = Note(id="id with 'quotes' and \\ / ünïcode", content="x", scope=scope)
        store.put_notes([full, bare])
        assert store.get_notes(scope, [full.id, bare.id]) == [full, bare]
        assert store.list_notes(scope) == [full, bare]

    def test_get_missing_is_none_aligned(self, store: GraphStore, scope: Scope) -> None:
        a = make_note(scope, "a")
        store.put_notes([a])
        assert store.get_notes(scope, ["nope", a.id, a.id]) == [None, a, a]
        with pytest.raises(NoteNotFound):
            store.get_note(scope, "nope")
        with pytest.raises(KeyError):
            store.get_note(scope, "nope")

    def test_upsert_replaces_and_keeps_order(self, store: GraphStore, scope: Scope) -> None:
        a, b, c = (make_note(scope, x, i=i) for i, x in enumerate("abc"))
        store.put_notes([a, b])
        store.put_notes([c])
        b2 = b.model_copy(update={"tags": ["new"], "version": 2, "event_time": None})
        store.put_notes([b2])
        assert store.list_notes(scope) == [a, b2, c]
        assert store.count_all(scope)["notes"] == 3

    def test_list_paging(self, store: GraphStore, scope: Scope) -> None:
        notes = [make_note(scope, f"n{i}", i=i) for i in range(7)]
        store.put_notes(notes)
        for offset, limit in [(0, 3), (3, 3), (6, 3), (2, None), (9, 2), (0, 0)]:
            end = None if limit is None else offset + limit
            assert store.list_notes(scope, limit=limit, offset=offset) == notes[offset:end]

    def test_note_id_of_another_scope_is_refused(self, store: GraphStore, new_scope: Any) -> None:
        s1, s2 = new_scope("one"), new_scope("two")
        a = make_note(s1, "a")
        store.put_notes([a])
        with pytest.raises(StoreError):
            store.put_notes([make_note(s2, "b"), a.model_copy(update={"scope": s2})])
        assert store.get_note(s1, a.id) == a
        assert store.list_notes(s2) == []

    def test_large_batch_is_chunked(self, store: GraphStore, scope: Scope) -> None:
        notes = [make_note(scope, f"n{i}", i=i) for i in range(1203)]
        links = [Link(source=notes[i].id, target=notes[i + 1].id) for i in range(1202)]
        store.batch([PutNotes(tuple(notes)), PutLinks(scope, tuple(links))])
        assert store.count_all(scope) == {"notes": 1203, "links": 1202, "changes": 0}
        assert [n.id for n in store.list_notes(scope)] == [n.id for n in notes]
        assert store.get_notes(scope, [n.id for n in notes]) == notes

    # -- links ----------------------------------------------------------------------
    def test_links_need_both_ends_in_scope(self, store: GraphStore, new_scope: Any) -> None:
        s1, s2 = new_scope("one"), new_scope("two")
        a, b, x = make_note(s1, "a"), make_note(s1, "b"), make_note(s2, "x")
        store.put_notes([a, b, x])
        for bad in (Link(source=a.id, target="missing"), Link(source="missing", target=a.id),
                    Link(source=a.id, target=x.id), Link(source=x.id, target=a.id)):
            with pytest.raises(NoteNotFound):
                store.put_links(s1, [Link(source=a.id, target=b.id), bad])
        assert store.get_links(s1, [a.id, b.id]) == []
        with pytest.raises(NoteNotFound):
            store.put_links(s2, [Link(source=a.id, target=b.id)])
        assert store.count_all(s1)["links"] == 0

    def test_link_upsert_by_source_target_relation(self, store: GraphStore, scope: Scope) -> None:
        a, b = make_note(scope, "a"), make_note(scope, "b")
        store.put_notes([a, b])
        store.put_links(scope, [Link(source=a.id, target=b.id, weight=0.3)])
        newer = Link(source=a.id, target=b.id, weight=0.9, rationale="again", created_at=T0)
        store.put_links(scope, [newer])
        assert store.get_links(scope, [a.id]) == [newer]
        sup = Link(source=a.id, target=b.id, relation=Relation.SUPPORTS, created_at=T0)
        back = Link(source=b.id, target=a.id, relation=Relation.SUPPORTS, created_at=T0)
        store.put_links(scope, [sup, back])
        assert _keys(store.get_links(scope, [a.id])) == _keys([newer, sup, back])
        assert store.count_all(scope)["links"] == 3

    def test_links_between_look_alike_ids(self, store: GraphStore, scope: Scope) -> None:
        odd = ["a\x1fb", "c", "a", "b\x1fc", "x'}) //", "ü"]
        store.put_notes([Note(id=i, content=i, scope=scope) for i in odd])
        links = [Link(source=odd[i], target=odd[i + 1], created_at=T0) for i in range(0, 6, 2)]
        store.put_links(scope, links)
        assert _keys(store.get_links(scope, odd)) == _keys(links) and store.count_all(scope)["links"] == 3
        assert store.delete_links(scope, [("a", "b\x1fc", None)]) == 1
        assert _keys(store.get_links(scope, odd)) == _keys([links[0], links[2]])

    def test_neighbours_by_direction(self, store: GraphStore, scope: Scope) -> None:
        a, b, c = (make_note(scope, x) for x in "abc")
        store.put_notes([a, b, c])
        ab, ca, bc = (Link(source=s.id, target=t.id) for s, t in ((a, b), (c, a), (b, c)))
        store.put_links(scope, [ab, ca, bc])
        assert store.get_links(scope, [a.id], "out") == [ab]
        assert store.get_links(scope, [a.id], "in") == [ca]
        assert _keys(store.get_links(scope, [a.id], "both")) == _keys([ab, ca])
        assert _keys(store.get_links(scope, [a.id, b.id, a.id])) == _keys([ab, ca, bc])
        assert store.get_links(scope, ["missing"]) == []
        assert store.batch([GetLinks(scope, (b.id,), "out")])[0] == [bc]

    def test_delete_links(self, store: GraphStore, new_scope: Any) -> None:
        scope, other = new_scope("one"), new_scope("two")
        a, b = make_note(scope, "a"), make_note(scope, "b")
        store.put_notes([a, b])
        store.put_links(scope, [Link(source=a.id, target=b.id, relation=r) for r in
                                (Relation.RELATES_TO, Relation.SUPPORTS, Relation.FOLLOWS)])
        assert store.delete_links(other, [(a.id, b.id, None)]) == 0
        assert store.delete_links(scope, [(b.id, a.id, None)]) == 0
        assert store.delete_links(scope, [(a.id, b.id, "supports"), (a.id, b.id, "supports")]) == 1
        assert store.delete_links(scope, [(a.id, b.id, "supports")]) == 0
        assert store.delete_links(scope, [(a.id, b.id, None), (a.id, b.id, "follows")]) == 2
        assert store.get_links(scope, [a.id]) == []

    def test_delete_notes_takes_links_and_changes(self, store: GraphStore, scope: Scope) -> None:
        a, b, c = (make_note(scope, x) for x in "abc")
        store.put_notes([a, b, c])
        store.put_links(scope, [Link(source=a.id, target=b.id), Link(source=b.id, target=c.id),
                                Link(source=c.id, target=a.id)])
        ca, cb = change(a), change(b)
        store.batch([_put_changes(scope, ca, cb)])
        assert store.delete_notes(scope, [a.id, "missing"]) == 1
        assert store.delete_notes(scope, [a.id]) == 0
        assert store.get_notes(scope, [a.id]) == [None]
        assert _keys(store.get_links(scope, [b.id, c.id])) == {(b.id, c.id, "relates_to")}
        assert store.history(scope, a.id) == []
        with pytest.raises(ChangeNotFound):
            store.get_change(scope, ca.id)
        assert store.history(scope, b.id) == [cb]
        assert store.count_all(scope) == {"notes": 2, "links": 1, "changes": 1}
        store.put_notes([a])  # same id again: no stale links or history
        assert store.get_links(scope, [a.id]) == [] and store.history(scope, a.id) == []

    # -- changes, counts, scopes, meta ------------------------------------------------
    def test_history_order_and_get_change(self, store: GraphStore, scope: Scope) -> None:
        a, b = make_note(scope, "a"), make_note(scope, "b")
        store.put_notes([a, b])
        c0, c1, c2 = (change(a, i) for i in range(3))
        late_first = change(a, 3, created_at=T0 - timedelta(days=1))  # insertion order wins
        cb = change(b)
        store.batch([_put_changes(scope, c0, cb)])
        store.batch([_put_changes(scope, c1, c2), _put_changes(scope, late_first)])
        c1 = c1.model_copy(update={"rationale": "edited"})
        store.batch([_put_changes(scope, c1)])  # re-put: replaced in place, no duplicate
        assert store.history(scope, a.id) == [c0, c1, c2, late_first]
        assert store.get_change(scope, c2.id) == c2
        with pytest.raises(ChangeNotFound):
            store.get_change(scope, "missing")
        assert {c.id for c in store.batch([_get_changes(scope)])[0]} == {c.id for c in (c0, c1, c2, late_first, cb)}
        assert store.count_all(scope)["changes"] == 5

    def test_counts_and_scopes(self, store: GraphStore, new_scope: Any) -> None:
        s1, s2, empty = new_scope("one"), new_scope("two"), new_scope("three")
        before = store.count_all()
        a, b, c = make_note(s1, "a"), make_note(s1, "b"), make_note(s2, "c")
        store.put_notes([a, b, c])
        store.put_links(s1, [Link(source=a.id, target=b.id)])
        store.batch([_put_changes(s1, change(a))])
        assert store.count_all(s1) == {"notes": 2, "links": 1, "changes": 1}
        assert store.count_all(s2) == {"notes": 1, "links": 0, "changes": 0}
        assert store.count_all(empty) == {"notes": 0, "links": 0, "changes": 0}
        after = store.count_all()
        if self.exclusive:
            assert {k: after[k] - before[k] for k in after} == {"notes": 3, "links": 1, "changes": 1}
        assert after["notes"] >= 3 and after["links"] >= 1 and after["changes"] >= 1
        found = store.list_scopes()
        assert found.count(s1) == 1 and found.count(s2) == 1 and empty not in found
        store.delete_notes(s2, [c.id])
        assert s2 not in store.list_scopes()

    def test_meta(self, store: GraphStore, scope: Scope, tag: str) -> None:
        key = f"zmt-{tag}-key"
        assert store.get_meta(key) is None
        store.put_meta(key, "v1")
        store.put_meta(key, "v2 ✓ \x1f")
        assert store.get_meta(key) == "v2 ✓ \x1f"
        assert store.get_meta(key + "x") is None

    # -- atomicity and batches ----------------------------------------------------------
    def test_failing_batch_writes_nothing(self, store: GraphStore, scope: Scope, tag: str) -> None:
        a, b = make_note(scope, "a"), make_note(scope, "b")
        store.put_notes([a])
        key = f"zmt-{tag}-atomic"
        with pytest.raises(NoteNotFound):
            store.batch([PutNotes((b,)), PutMeta(key, "x"), _put_changes(scope, change(a)),
                         PutLinks(scope, (Link(source=a.id, target=b.id), Link(source=b.id, target="missing")))])
        with pytest.raises(NoteNotFound):
            store.batch([DeleteNotes(scope, (a.id,)), PutLinks(scope, (Link(source="missing", target=a.id),))])
        with pytest.raises(StoreError):
            store.batch([PutMeta(key, "y"), PutNotes((a.model_copy(update={"scope": Scope(user_id=f"zmt-{tag}-x")}),))])
        assert store.list_notes(scope) == [a]
        assert store.get_meta(key) is None
        assert store.count_all(scope) == {"notes": 1, "links": 0, "changes": 0}

    def test_batch_reads_its_own_writes(self, store: GraphStore, scope: Scope) -> None:
        a, b = make_note(scope, "a"), make_note(scope, "b")
        got = store.batch([PutNotes((a, b)), GetNotes(scope, (a.id,)),
                           PutLinks(scope, (Link(source=a.id, target=b.id),)), GetLinks(scope, (b.id,), "in"),
                           DeleteNotes(scope, (b.id,)), ListNotes(scope)])
        assert got[0] is None and got[1] == [a] and got[2] is None
        assert len(got[3]) == 1 and got[4] == 1 and got[5] == [a]
        assert asyncio.run(store.abatch([GetNotes(scope, (a.id, b.id))])) == [[a, None]]

    def test_async_twins_write_and_read_like_the_sync_methods(self, store: GraphStore, scope: Scope,
                                                               tag: str) -> None:
        a, b = make_note(scope, "a"), make_note(scope, "b", i=1)
        lk = Link(source=a.id, target=b.id, relation=Relation.SUPPORTS)
        change = Change(note_id=a.id, scope=scope, version_before=1, version_after=2, before={"tags": []},
                        after={"tags": ["x"]}, rationale="r", agent=BuiltBy(), created_at=T0)
        key = f"zmt-{tag}-twins"

        async def writes() -> None:
            await store.aput_notes([a, b])
            await store.aput_links(scope, [lk])
            await store.aput_changes(scope, [change])
            await store.aput_meta(key, "v")

        async def reads() -> list[Any]:
            return [await store.aget_note(scope, a.id), await store.aget_notes(scope, [b.id, "missing"]),
                    await store.alist_notes(scope), await store.aget_links(scope, [a.id], "out"),
                    await store.aget_changes(scope, note_id=a.id), await store.ahistory(scope, a.id),
                    await store.aget_change(scope, change.id), await store.acount_all(scope),
                    scope in await store.alist_scopes(), await store.aget_meta(key)]

        asyncio.run(writes())
        sync = [store.get_note(scope, a.id), store.get_notes(scope, [b.id, "missing"]), store.list_notes(scope),
                store.get_links(scope, [a.id], "out"), store.get_changes(scope, note_id=a.id),
                store.history(scope, a.id), store.get_change(scope, change.id), store.count_all(scope),
                scope in store.list_scopes(), store.get_meta(key)]
        assert asyncio.run(reads()) == sync
        assert sync[0] == a and sync[1] == [b, None] and sync[3] == [lk] and sync[6] == change
        assert sync[7] == {"notes": 2, "links": 1, "changes": 1} and sync[8] and sync[9] == "v"
        with pytest.raises(NoteNotFound):
            asyncio.run(store.aget_note(scope, "missing"))
        with pytest.raises(ChangeNotFound):
            asyncio.run(store.aget_change(scope, "missing"))
        assert asyncio.run(store.adelete_links(scope, [(a.id, b.id, None)])) == 1
        assert asyncio.run(store.adelete_notes(scope, [a.id, b.id])) == 2
        assert store.count_all(scope) == {"notes": 0, "links": 0, "changes": 0}

    # -- scope isolation ------------------------------------------------------------------
    @pytest.mark.parametrize("pair", [
        (("foo",), ("foobar",)),
        (("a/b",), ("a", "b")),
        (("a/b", "c"), ("a", "b/c")),  # identical str(): "a/b/c/default"
        (("Foo",), ("foo",)),
        (("x", "default", "ns"), ("x", "default", "ns ")),
    ], ids=["prefix", "slash", "same-str", "case", "trailing-space"])
    def test_scope_isolation_with_lookalikes(self, store: GraphStore, new_scope: Any, pair: Any) -> None:
        s1, s2 = new_scope(*pair[0]), new_scope(*pair[1])
        assert s1 != s2 and s1.key != s2.key
        a1, b1, a2 = make_note(s1, "a1", tags=["alpha"]), make_note(s1, "b1"), make_note(s2, "a2", tags=["alpha"])
        store.put_notes([a1, b1, a2])
        store.put_links(s1, [Link(source=a1.id, target=b1.id)])
        c1 = change(a1)
        store.batch([_put_changes(s1, c1)])
        assert store.get_notes(s2, [a1.id, b1.id, a2.id]) == [None, None, a2]
        assert store.list_notes(s2) == [a2] and store.list_notes(s2, Filter(tags_any=("alpha",))) == [a2]
        assert store.get_links(s2, [a1.id, b1.id]) == [] and store.history(s2, a1.id) == []
        with pytest.raises(ChangeNotFound):
            store.get_change(s2, c1.id)
        assert store.batch([_get_changes(s2)])[0] == []
        assert store.count_all(s2) == {"notes": 1, "links": 0, "changes": 0}
        assert store.delete_notes(s2, [a1.id]) == 0 and store.delete_links(s2, [(a1.id, b1.id, None)]) == 0
        with pytest.raises(NoteNotFound):
            store.put_links(s2, [Link(source=a2.id, target=a1.id)])
        assert store.list_notes(s1) == [a1, b1] and store.count_all(s1) == {"notes": 2, "links": 1, "changes": 1}
        found = store.list_scopes()
        assert found.count(s1) == 1 and found.count(s2) == 1

    # -- filters --------------------------------------------------------------------------
    def test_filters(self, store: GraphStore, scope: Scope) -> None:
        ep = make_note(scope, "ep", i=0, tags=["alpha", "beta"], event_time=T0 - timedelta(days=2))
        se = make_note(scope, "se", i=1, tags=["beta"], memory_type=MemoryType.SEMANTIC,
                       valid_from=T0, valid_to=T0 + timedelta(days=1), built_by=BuiltBy(kind="llm"))
        pr = make_note(scope, "pr", i=2, memory_type=MemoryType.PROCEDURAL, valid_to=T0 + timedelta(hours=1),
                       built_by=BuiltBy(kind="user"))
        store.put_notes([ep, se, pr])

        def ids(**kw: Any) -> list[str]:
            return [n.content for n in store.list_notes(scope, Filter(**kw))]

        assert ids(memory_types=(MemoryType.SEMANTIC, MemoryType.PROCEDURAL)) == ["se", "pr"]
        assert ids(memory_types=()) == [] and ids(tags_any=()) == [] and ids(tags_all=()) == ["ep", "se", "pr"]
        assert ids(tags_any=("alpha", "zzz")) == ["ep"] and ids(tags_any=("beta",)) == ["ep", "se"]
        assert ids(tags_all=("alpha", "beta")) == ["ep"] and ids(tags_all=("beta", "zzz")) == []
        assert ids(since=T0) == ["se", "pr"]  # ep's event time is two days earlier
        assert ids(since=T0, time_field="created_at") == ["ep", "se", "pr"]
        assert ids(until=T0 + timedelta(hours=1)) == ["ep", "se"]  # bounds are inclusive
        assert ids(valid_at=T0) == ["ep", "se", "pr"]
        assert ids(valid_at=T0 + timedelta(hours=1)) == ["ep", "se"]  # valid_to is exclusive
        assert ids(valid_at=T0 - timedelta(seconds=1)) == ["ep", "pr"]
        assert ids(built_by="llm") == ["se"] and ids(built_by="offline") == ["ep"]
        assert ids(current=True) == ["ep"] and ids(current=False) == ["se", "pr"]  # open vs closed (history)
        assert ids(tags_any=("beta",), since=T0 - timedelta(days=3), built_by="offline") == ["ep"]
        paged = store.list_notes(scope, Filter(tags_any=("beta", "alpha")), limit=1, offset=1)
        assert [n.content for n in paged] == ["se"]

    @settings(max_examples=40, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                     HealthCheck.differing_executors])
    @given(specs=_notes(), flt=_filters)
    def test_filter_compilers_agree(self, store: GraphStore, new_scope: Any, chroma: Any,
                                    specs: list[dict[str, Any]], flt: Filter) -> None:
        scope = new_scope(uuid.uuid4().hex[:8])
        notes = [Note(content=f"n{i}", scope=scope, memory_type=s["memory_type"], tags=s["tags"],
                      created_at=s["created_at"], event_time=s["event_time"], valid_from=s["valid_from"],
                      valid_to=s["valid_to"], built_by=BuiltBy(kind=s["kind"])) for i, s in enumerate(specs)]
        store.put_notes(notes)
        expected = [n.id for n in notes if predicate(flt)(n)]
        assert [n.id for n in store.list_notes(scope, flt)] == expected
        if notes:
            chroma.upsert(ids=[n.id for n in notes], embeddings=[[1.0, 0.0]] * len(notes),
                          metadatas=[vector_metadata(n, "h") for n in notes])
        pre = flt.model_copy(update={"valid_at": None, "built_by": None, "current": None})  # left to the caller
        where = chroma_where(scope, pre)
        got = set(chroma.get(where=where, include=[])["ids"])
        want = {n.id for n in notes if predicate(pre)(n)}
        assert got == want, (where, [(n.id in got, n.id in want, vector_metadata(n, "h")) for n in notes])
        assert {n.id for n in notes if n.id in got and predicate(flt)(n)} == set(expected)

    @pytest.fixture
    def chroma(self) -> Iterator[Any]:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        client = chromadb.EphemeralClient(settings=ChromaSettings(anonymized_telemetry=False))
        name = f"zmt-{uuid.uuid4().hex[:12]}"
        yield client.get_or_create_collection(name, metadata={"hnsw:space": "cosine"}, embedding_function=None)
        drop_chroma_collection(client, name)


    # -- full-text search -------------------------------------------------------------------
    def test_search_text_ranks_words_in_every_field(self, store: GraphStore, scope: Scope) -> None:
        hike = make_note(scope, "We went hiking in the mountains last Sunday", i=0)
        kitten = make_note(scope, "I adopted a kitten named Miso", i=1, keywords=["shelter"], tags=["pets"],
                           entities=["Miso"], context="about a new cat")
        both = make_note(scope, "The kitten hates hiking", i=2)
        store.put_notes([hike, kitten, both])
        hits = store.search_text(scope, "kittens", 10)
        assert [i for i, _ in hits] == [kitten.id, both.id] or [i for i, _ in hits] == [both.id, kitten.id]
        assert all(s > 0 for _, s in hits) and [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)
        for word in ("shelter", "pets", "cat", "miso"):  # keywords, tags, context, entities
            assert [i for i, _ in store.search_text(scope, word, 10)] == [kitten.id], word
        assert store.search_text(scope, "mountain hike", 10)[0][0] == hike.id  # stemmed
        assert len(store.search_text(scope, "kitten hiking", 1)) == 1
        assert store.search_text(scope, "kitten hiking", 10)[0][0] == both.id  # both words beat one
        assert store.search_text(scope, "submarine", 10) == []

    def test_search_text_follows_note_writes(self, store: GraphStore, scope: Scope) -> None:
        a = make_note(scope, "the lighthouse keeper")
        store.put_notes([a])
        assert [i for i, _ in store.search_text(scope, "lighthouse", 5)] == [a.id]
        store.put_notes([a.model_copy(update={"tags": ["harbour"]})])
        assert [i for i, _ in store.search_text(scope, "harbour", 5)] == [a.id]
        store.put_notes([a.model_copy(update={"content": "the ferry captain", "tags": []})])
        assert store.search_text(scope, "lighthouse harbour", 5) == []
        assert [i for i, _ in store.search_text(scope, "ferry", 5)] == [a.id]
        store.delete_notes(scope, [a.id])
        assert store.search_text(scope, "ferry", 5) == []

    def test_search_text_thread(self, store: GraphStore, scope: Scope) -> None:
        question = make_note(scope, "Did you visit the volcano?", i=0)
        answer = make_note(scope, "Yes, last Sunday!", i=1)
        follow = make_note(scope, "It was smoking a little.", i=2)
        store.put_notes([question, answer, follow])
        assert [i for i, _ in store.search_text(scope, "volcano", 5, "thread")] == [question.id]
        store.put_links(scope, [Link(source=answer.id, target=question.id, relation=Relation.ANSWERS),
                                Link(source=follow.id, target=answer.id, relation=Relation.FOLLOWS),
                                Link(source=follow.id, target=question.id, relation=Relation.RELATES_TO)])
        assert {i for i, _ in store.search_text(scope, "volcano", 5, "thread")} == {question.id, answer.id}
        assert [i for i, _ in store.search_text(scope, "volcano", 5, "note")] == [question.id]
        assert {i for i, _ in store.search_text(scope, "sunday", 5, "thread")} == {answer.id, follow.id}
        # the thread follows the content of the note answered, its links and its deletion
        store.put_notes([question.model_copy(update={"content": "Did you visit the glacier?"})])
        assert {i for i, _ in store.search_text(scope, "glacier", 5, "thread")} == {question.id, answer.id}
        assert store.search_text(scope, "volcano", 5, "thread") == []
        store.delete_links(scope, [(answer.id, question.id, None)])
        assert [i for i, _ in store.search_text(scope, "glacier", 5, "thread")] == [question.id]
        store.put_links(scope, [Link(source=answer.id, target=question.id, relation=Relation.ANSWERS)])
        store.delete_notes(scope, [question.id])
        assert store.search_text(scope, "glacier", 5, "thread") == []
        assert {i for i, _ in store.search_text(scope, "sunday", 5, "thread")} == {answer.id, follow.id}
        store.put_links(scope, [Link(source=follow.id, target=answer.id, relation=Relation.ANSWERS)])  # 2 relations
        assert store.check_text_index(scope) == {"missing": [], "stale": [], "orphan": []}

    def test_search_text_is_scoped_and_filtered(self, store: GraphStore, new_scope: Any) -> None:
        s1, s2, empty = new_scope("a"), new_scope("ab"), new_scope("abc")
        a1 = make_note(s1, "penguin colony", tags=["alpha"], i=0)
        b1 = make_note(s1, "penguin parade", tags=["beta"], i=1)
        a2 = make_note(s2, "penguin colony penguin", tags=["alpha"], i=2)
        store.put_notes([a1, b1, a2])
        assert {i for i, _ in store.search_text(s1, "penguin", 10)} == {a1.id, b1.id}
        assert [i for i, _ in store.search_text(s2, "penguin", 10, "thread")] == [a2.id]
        assert store.search_text(empty, "penguin", 10) == []
        assert [i for i, _ in store.search_text(s1, "penguin", 10, where=Filter(tags_any=("beta",)))] == [b1.id]
        assert store.search_text(s1, "penguin", 10, where=Filter(tags_any=("gamma",))) == []

    @pytest.mark.parametrize("query", [
        "", "   ", "*", '"', "OR", "-", ":", "\\", "AND NOT", "(", ")", "[x TO y]", "~", "^2", "{}", "+-&&||!",
        'title:"x" OR *', "NEAR(a b)", "a*", "x AND", "'", "\x00", "名前", "a" * 10_000, "word " * 2_000,
    ], ids=lambda q: repr(q[:12]))
    def test_search_text_takes_any_text(self, store: GraphStore, scope: Scope, query: str) -> None:
        note = make_note(scope, "The title of the book is x and the word NEAR the end")
        store.put_notes([note])
        for field in ("note", "thread"):
            hits = store.search_text(scope, query, 5, field)
            assert isinstance(hits, list) and all(i == note.id for i, _ in hits)
        assert [i for i, _ in store.search_text(scope, 'title:"x" OR *', 5)] == [note.id]  # searched as words
        assert store.search_text(scope, "book", 0) == []


def _keys(links: list[Link]) -> set[tuple[str, str, str]]:
    return {lk.key for lk in links}


def _put_changes(scope: Scope, *changes: Change) -> PutChanges:
    return PutChanges(scope, changes)


def _get_changes(scope: Scope) -> GetChanges:
    return GetChanges(scope)
