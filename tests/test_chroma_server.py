"""The Chroma VectorIndex, embedded (PersistentClient) and against a real ``chroma run`` server."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import free_port

from zettelmem.errors import BackendUnavailable, EmbeddingModelMismatch
from zettelmem.filters import Filter
from zettelmem.models import MemoryType, Note, Scope
from zettelmem.testing import drop_chroma_collection
from zettelmem.vectors.base import VectorIndex, vector_metadata
from zettelmem.vectors.chroma import ChromaVectorIndex

DIMS = 8
T0 = datetime(2024, 1, 1, tzinfo=UTC)
Opener = Callable[..., ChromaVectorIndex]


@pytest.fixture(params=["local", pytest.param("server", marks=pytest.mark.chroma_server)])
def open_index(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    """``open_index(model_id="m", dims=DIMS)`` -> an index on one fresh collection, dropped afterwards."""
    name = f"zmt-{uuid.uuid4().hex[:12]}"
    opened: list[ChromaVectorIndex] = []
    if request.param == "server":
        host, port = request.getfixturevalue("chroma_server")

    def open_(model_id: str = "m", dims: int = DIMS) -> ChromaVectorIndex:
        if request.param == "local":
            index = ChromaVectorIndex.local(tmp_path / "chroma", name, model_id, dims)
        else:
            index = ChromaVectorIndex.server(host, port, name, model_id, dims)
        opened.append(index)
        return index

    yield open_
    if opened:
        drop_chroma_collection(opened[0]._client, name)
    for index in opened:
        index.close()


def _vec(*hot: int) -> np.ndarray:
    v = np.zeros(DIMS, dtype=np.float32)
    v[list(hot)] = 1.0
    return v / np.linalg.norm(v)


def _put(index: VectorIndex, notes: list[Note], vecs: list[np.ndarray]) -> None:
    index.upsert([n.id for n in notes], np.stack(vecs), [vector_metadata(n, f"h-{n.id}") for n in notes])


def test_upsert_and_query_stay_in_scope(open_index: Opener) -> None:
    index = open_index()
    assert isinstance(index, VectorIndex)
    foo, foobar = Scope(user_id="foo"), Scope(user_id="foobar")
    a, b, c = Note(content="a", scope=foo), Note(content="b", scope=foo), Note(content="c", scope=foobar)
    _put(index, [a, b, c], [_vec(0), _vec(0, 1), _vec(0)])
    hits = index.query(_vec(0), foo, k=5)
    assert [h.id for h in hits] == [a.id, b.id]
    assert hits[0].similarity == pytest.approx(1.0, abs=1e-5) and hits[1].similarity == pytest.approx(0.7071, abs=1e-3)
    assert [h.id for h in index.query(_vec(0), foobar, k=5)] == [c.id]
    assert index.query(_vec(0), Scope(user_id="fo"), k=5) == [] and index.query(_vec(0), foo, k=0) == []
    _put(index, [a], [_vec(2)])  # upsert replaces
    assert [h.id for h in index.query(_vec(0), foo, k=1)] == [b.id]
    assert index.count() == 3


def test_filters_prefilter_the_query(open_index: Opener) -> None:
    index = open_index()
    s = Scope(user_id="filters")
    ep = Note(content="ep", scope=s, tags=["alpha", "beta"], created_at=T0, event_time=T0 - timedelta(days=2))
    se = Note(content="se", scope=s, tags=["beta"], memory_type=MemoryType.SEMANTIC, created_at=T0 + timedelta(hours=1))
    pr = Note(content="pr", scope=s, memory_type=MemoryType.PROCEDURAL, created_at=T0 + timedelta(hours=2))
    _put(index, [ep, se, pr], [_vec(0), _vec(0, 1), _vec(0, 2)])

    def found(**kw: Any) -> set[str]:
        return {h.id for h in index.query(_vec(0), s, k=10, where=Filter(**kw))}

    assert found(memory_types=(MemoryType.SEMANTIC, MemoryType.PROCEDURAL)) == {se.id, pr.id}
    assert found(memory_types=()) == set() and found(tags_any=()) == set()
    assert found(tags_any=("alpha", "zzz")) == {ep.id} and found(tags_all=("alpha", "beta")) == {ep.id}
    assert found(tags_any=("beta",)) == {ep.id, se.id}
    assert found(since=T0) == {se.id, pr.id} and found(since=T0, time_field="created_at") == {ep.id, se.id, pr.id}
    assert found(until=T0 + timedelta(hours=1)) == {ep.id, se.id}
    assert found(tags_any=("beta",), since=T0) == {se.id}


def test_metadata_ids_and_delete(open_index: Opener) -> None:
    index = open_index()
    s1, s2 = Scope(user_id="a/b"), Scope(user_id="a", agent_id="b")
    notes = [Note(content=f"n{i}", scope=s1 if i % 2 else s2, tags=["t"]) for i in range(6)]
    _put(index, notes, [_vec(i) for i in range(6)])
    meta = index.metadata([notes[1].id, "missing"])
    assert set(meta) == {notes[1].id}
    assert meta[notes[1].id]["version"] == 1 and meta[notes[1].id]["text_hash"] == f"h-{notes[1].id}"
    assert meta[notes[1].id]["scope"] == s1.key and meta[notes[1].id]["tags"] == ["t"]
    newer = notes[1].model_copy(update={"version": 2})
    index.update_metadata([newer.id], [vector_metadata(newer, "h2")])
    assert index.metadata([newer.id])[newer.id]["version"] == 2
    assert index.ids(s1) == {n.id for n in notes[1::2]} and index.ids(s2) == {n.id for n in notes[::2]}
    assert index.ids() == {n.id for n in notes}
    index.delete([notes[0].id, notes[1].id, "missing"])
    index.delete([])
    assert index.ids() == {n.id for n in notes[2:]} and index.count() == 4
    assert notes[1].id not in {h.id for h in index.query(_vec(1), s1, k=10)}


def test_model_mismatch_is_refused(open_index: Opener) -> None:
    index = open_index("model-a", DIMS)
    _put(index, [Note(content="x")], [_vec(0)])
    with pytest.raises(EmbeddingModelMismatch, match="model-a"):
        open_index("model-b", DIMS)
    with pytest.raises(EmbeddingModelMismatch):
        open_index("model-a", DIMS * 2)
    with pytest.raises(EmbeddingModelMismatch, match="dims"):
        index.upsert(["y"], np.ones((1, DIMS + 1), dtype=np.float32), [{"scope": "s"}])
    assert open_index("model-a", DIMS).count() == 1  # the same model reopens it


def test_server_down_is_backend_unavailable() -> None:
    port = free_port()
    with pytest.raises(BackendUnavailable, match=f"127.0.0.1:{port}"):
        ChromaVectorIndex.server("127.0.0.1", port, "zmt-nothing", "m", DIMS)
