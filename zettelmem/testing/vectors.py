"""The VectorIndex conformance suite, reusable by every index (needs pytest).

Subclass :class:`VectorIndexConformance` and provide an ``open_index`` fixture:
a callable ``open_index(model_id="m", dims=DIMS)`` that opens the *same* fresh
index every time it is called (so a test can close and reopen it) and removes it
afterwards::

    class TestMyIndex(VectorIndexConformance):
        @pytest.fixture
        def open_index(self, tmp_path):
            opened = []
            def open_(model_id="m", dims=DIMS):
                opened.append(MyIndex(tmp_path, model_id, dims))
                return opened[-1]
            yield open_
            for index in opened:
                index.close()

Scopes are look-alikes on purpose (``foo`` / ``foobar``, ``a/b`` / agent ``b``):
nothing may leak between them. Filters are checked against
:func:`zettelmem.filters.predicate`, the reference semantics.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import numpy as np
import pytest

from zettelmem.errors import EmbeddingModelMismatch, InvalidInput
from zettelmem.filters import Filter, predicate
from zettelmem.models import MemoryType, Note, Scope
from zettelmem.testing.conformance import T0, make_note
from zettelmem.vectors.base import VectorIndex, vector_metadata

__all__ = ["DIMS", "VectorIndexConformance", "drop_chroma_index", "put", "unit"]

DIMS = 8
Opener = Callable[..., VectorIndex]


def unit(*hot: int, dims: int = DIMS) -> np.ndarray:
    """A unit vector with ones at ``hot`` (cosine of two such vectors is easy to predict)."""
    v = np.zeros(dims, dtype=np.float32)
    v[list(hot)] = 1.0
    return v / np.linalg.norm(v)


def drop_chroma_index(client: Any, index: str) -> None:
    """Delete every collection of a Chroma index (its scopes', its registry's, a legacy one)."""
    from zettelmem.testing.conformance import drop_chroma_collection
    from zettelmem.vectors.chroma import collection_name

    registry = collection_name(index, None)
    names = [c.name for c in client.list_collections()]
    if registry in names:
        col = client.get_collection(registry)
        while ids := col.get(include=[], limit=5000, offset=0)["ids"]:
            for name in ids:
                if name in names:
                    drop_chroma_collection(client, name)
            col.delete(ids=ids)
    for name in (registry, index):
        if name in names:
            drop_chroma_collection(client, name)


def put(index: VectorIndex, notes: list[Note], vecs: list[np.ndarray]) -> None:
    """Upsert notes' vectors with the engine's metadata (text hash ``h-<id>``)."""
    index.upsert([n.id for n in notes], np.stack(vecs), [vector_metadata(n, f"h-{n.id}") for n in notes])


class VectorIndexConformance:
    """The behaviour every VectorIndex must have."""

    @pytest.fixture
    def open_index(self) -> Iterator[Opener]:
        raise NotImplementedError("provide an `open_index` fixture")

    @pytest.fixture
    def index(self, open_index: Opener) -> VectorIndex:
        return open_index()

    @pytest.fixture
    def tag(self) -> str:
        return uuid.uuid4().hex[:10]

    # -- scoping --------------------------------------------------------------------
    def test_upsert_and_query_stay_in_scope(self, index: VectorIndex) -> None:
        assert isinstance(index, VectorIndex)
        foo, foobar = Scope(user_id="foo"), Scope(user_id="foobar")
        a, b, c = make_note(foo, "a"), make_note(foo, "b"), make_note(foobar, "c")
        put(index, [a, b, c], [unit(0), unit(0, 1), unit(0)])
        hits = index.query(unit(0), foo, k=5)
        assert [h.id for h in hits] == [a.id, b.id]
        assert hits[0].similarity == pytest.approx(1.0, abs=1e-5)
        assert hits[1].similarity == pytest.approx(0.7071, abs=1e-3)
        assert [h.id for h in index.query(unit(0), foobar, k=5)] == [c.id]
        assert index.query(unit(0), Scope(user_id="fo"), k=5) == [] and index.query(unit(0), foo, k=0) == []
        put(index, [a], [unit(2)])  # upsert replaces
        assert [h.id for h in index.query(unit(0), foo, k=1)] == [b.id]
        assert index.count() == 3 and index.count(foo) == 2 and index.count(foobar) == 1
        assert set(index.scopes()) == {foo, foobar}

    def test_query_many_answers_each_vector(self, index: VectorIndex) -> None:
        s = Scope(user_id="many")
        notes = [make_note(s, f"n{i}", i=i) for i in range(4)]
        put(index, notes, [unit(i) for i in range(4)])
        got = index.query_many(np.stack([unit(2), unit(0), unit(3)]), s, k=1)
        assert [[h.id for h in hs] for hs in got] == [[notes[2].id], [notes[0].id], [notes[3].id]]
        assert index.query_many(np.stack([unit(0), unit(1)]), Scope(user_id="nobody"), k=3) == [[], []]
        assert len(index.query(unit(0), s, k=50)) == 4  # k beyond the scope's size

    def test_look_alike_scopes_never_meet(self, index: VectorIndex) -> None:
        s1, s2 = Scope(user_id="a/b"), Scope(user_id="a", agent_id="b")
        s3 = Scope(user_id="a", agent_id="b", namespace="n")
        notes = {s: make_note(s, s.key) for s in (s1, s2, s3)}
        put(index, list(notes.values()), [unit(0)] * 3)
        for s, n in notes.items():
            assert [h.id for h in index.query(unit(0), s, k=5)] == [n.id]
            assert index.ids(s) == {n.id}
            other = next(o for o in notes if o != s)
            assert index.metadata([n.id], other) == {} and index.get_vectors([n.id], other) == {}
        index.delete([notes[s1].id], s2)  # the wrong scope deletes nothing
        assert index.ids() == {n.id for n in notes.values()}

    # -- filters --------------------------------------------------------------------
    def test_filters_prefilter_the_query(self, index: VectorIndex) -> None:
        s = Scope(user_id="filters")
        ep = make_note(s, "ep", tags=["alpha", "beta"], event_time=T0 - timedelta(days=2))
        se = make_note(s, "se", i=1, tags=["beta"], memory_type=MemoryType.SEMANTIC)
        pr = make_note(s, "pr", i=2, memory_type=MemoryType.PROCEDURAL)
        other = make_note(Scope(user_id="filters2"), "x", tags=["alpha", "beta"], memory_type=MemoryType.SEMANTIC)
        put(index, [ep, se, pr, other], [unit(0), unit(0, 1), unit(0, 2), unit(0)])

        def found(**kw: Any) -> set[str]:
            return {h.id for h in index.query(unit(0), s, k=10, where=Filter(**kw))}

        assert found() == {ep.id, se.id, pr.id}
        assert found(memory_types=(MemoryType.SEMANTIC, MemoryType.PROCEDURAL)) == {se.id, pr.id}
        assert found(memory_types=()) == set() and found(tags_any=()) == set()
        assert found(tags_any=("alpha", "zzz")) == {ep.id} and found(tags_all=("alpha", "beta")) == {ep.id}
        assert found(tags_any=("beta",)) == {ep.id, se.id}
        assert found(since=T0) == {se.id, pr.id} and found(since=T0, time_field="created_at") == {ep.id, se.id, pr.id}
        assert found(until=T0 + timedelta(hours=1)) == {ep.id, se.id}
        assert found(tags_any=("beta",), since=T0) == {se.id}

    def test_filters_agree_with_the_reference(self, index: VectorIndex) -> None:
        """Every pre-filterable filter selects exactly what :func:`predicate` selects."""
        s = Scope(user_id="reference")
        tags = [[], ["alpha"], ["beta"], ["alpha", "beta"], ["gamma"]]
        notes = [make_note(s, f"n{i}", i=i, tags=tags[i % 5], memory_type=list(MemoryType)[i % len(MemoryType)],
                           event_time=None if i % 3 else T0 + timedelta(hours=10 - i)) for i in range(10)]
        put(index, notes, [unit(i % DIMS) for i in range(10)])
        filters = [Filter(tags_any=("alpha", "gamma")), Filter(tags_all=("alpha", "beta")),
                   Filter(memory_types=(MemoryType.EPISODIC,)), Filter(since=T0 + timedelta(hours=4)),
                   Filter(until=T0 + timedelta(hours=4), time_field="created_at"),
                   Filter(tags_any=("beta",), memory_types=tuple(MemoryType), since=T0)]
        for flt in filters:
            got = {h.id for h in index.query(unit(0), s, k=20, where=flt)}
            assert got == {n.id for n in notes if predicate(flt)(n)}, flt

    # -- reads and writes -----------------------------------------------------------
    def test_metadata_vectors_ids_and_delete(self, index: VectorIndex) -> None:
        s1, s2 = Scope(user_id="m1"), Scope(user_id="m2")
        notes = [make_note(s1 if i % 2 else s2, f"n{i}", tags=["t"]) for i in range(6)]
        put(index, notes, [unit(i) for i in range(6)])
        meta = index.metadata([notes[1].id, "missing"], s1)
        assert set(meta) == {notes[1].id}
        assert meta[notes[1].id]["version"] == 1 and meta[notes[1].id]["text_hash"] == f"h-{notes[1].id}"
        assert meta[notes[1].id]["scope"] == s1.key and meta[notes[1].id]["tags"] == ["t"]
        vecs = index.get_vectors([notes[1].id, notes[3].id, "missing"], s1)
        assert set(vecs) == {notes[1].id, notes[3].id} and np.allclose(vecs[notes[3].id], unit(3), atol=1e-6)
        newer = notes[1].model_copy(update={"version": 2})
        index.update_metadata([newer.id], [vector_metadata(newer, "h2")])
        assert index.metadata([newer.id], s1)[newer.id]["version"] == 2
        assert np.allclose(index.get_vectors([newer.id], s1)[newer.id], unit(1), atol=1e-6)  # vector kept
        assert index.ids(s1) == {n.id for n in notes[1::2]} and index.ids(s2) == {n.id for n in notes[::2]}
        assert index.ids() == {n.id for n in notes}
        index.delete([notes[1].id, "missing"], s1)
        index.delete([], s1)
        assert index.ids() == {n.id for n in notes[2:]} | {notes[0].id} and index.count() == 5
        assert notes[1].id not in {h.id for h in index.query(unit(1), s1, k=10)}

    def test_last_delete_and_drop_scope_empty_the_scope(self, index: VectorIndex) -> None:
        s1, s2 = Scope(user_id="d1"), Scope(user_id="d2")
        a, b, c = make_note(s1, "a"), make_note(s1, "b"), make_note(s2, "c")
        put(index, [a, b, c], [unit(0), unit(1), unit(0)])
        index.delete([a.id, b.id], s1)
        assert index.count(s1) == 0 and index.query(unit(0), s1, k=3) == [] and s1 not in index.scopes()
        put(index, [a], [unit(0)])  # the scope comes back on the next write
        assert [h.id for h in index.query(unit(0), s1, k=3)] == [a.id]
        index.drop_scope(s1)
        index.drop_scope(Scope(user_id="never-written"))
        assert index.ids(s1) == set() and index.scopes() == [s2] and index.ids() == {c.id}
        assert [h.id for h in index.query(unit(0), s2, k=3)] == [c.id]

    def test_empty_scope_reads(self, index: VectorIndex) -> None:
        s = Scope(user_id="empty")
        assert index.query(unit(0), s, k=5) == [] and index.metadata(["x"], s) == {}
        assert index.get_vectors(["x"], s) == {} and index.ids(s) == set() and index.count(s) == 0
        index.delete(["x"], s)
        index.update_metadata([], [])
        assert s not in index.scopes()

    def test_refused_writes_write_nothing(self, index: VectorIndex) -> None:
        s = Scope(user_id="refused")
        good = make_note(s, "good")
        with pytest.raises(InvalidInput, match="scope"):
            index.upsert([good.id, "bad"], np.stack([unit(0), unit(1)]),
                         [vector_metadata(good, "h"), {"version": 1}])
        with pytest.raises(InvalidInput):
            index.upsert(["bad"], np.stack([unit(1)]), [{"scope": "not a scope key"}])
        with pytest.raises(EmbeddingModelMismatch, match="dims"):
            index.upsert([good.id], np.ones((1, DIMS + 1), dtype=np.float32), [vector_metadata(good, "h")])
        assert index.count() == 0 and index.scopes() == []
        put(index, [good], [unit(0)])
        with pytest.raises(EmbeddingModelMismatch, match="dims"):
            index.query(np.ones(DIMS + 2, dtype=np.float32), s, k=1)

    # -- lifecycle ------------------------------------------------------------------
    def test_reopen_keeps_vectors_and_refuses_another_model(self, open_index: Opener) -> None:
        s = Scope(user_id="reopen")
        notes = [make_note(s, f"n{i}") for i in range(3)]
        index = open_index("model-a", DIMS)
        put(index, notes, [unit(i) for i in range(3)])
        before = index.query(unit(1), s, k=3)
        index.close()
        with pytest.raises(EmbeddingModelMismatch, match="model-a"):
            open_index("model-b", DIMS)
        with pytest.raises(EmbeddingModelMismatch):
            open_index("model-a", DIMS * 2)
        again = open_index("model-a", DIMS)
        assert again.query(unit(1), s, k=3) == before and again.count() == 3 and again.scopes() == [s]
