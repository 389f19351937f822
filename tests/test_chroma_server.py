"""The Chroma VectorIndex, embedded (PersistentClient) and against a real ``chroma run`` server.

The shared :class:`~zettelmem.testing.vectors.VectorIndexConformance` suite runs on
both; the rest checks what is Chroma's own: one collection per scope under
hashed names, foreign collections refused, the folder lock, the collection cache.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import free_port

from zettelmem.errors import BackendUnavailable, EmbeddingModelMismatch, StoreCorrupt, StoreLocked
from zettelmem.models import Scope
from zettelmem.testing.conformance import make_note
from zettelmem.testing.vectors import DIMS, VectorIndexConformance, drop_chroma_index, put, unit
from zettelmem.vectors.chroma import ChromaVectorIndex, collection_name

Opener = Callable[..., ChromaVectorIndex]


@pytest.fixture(params=["local", pytest.param("server", marks=pytest.mark.chroma_server)])
def open_chroma(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    """``open_chroma(model_id="m", dims=DIMS, name=<fresh>)`` -> an index; every index is dropped afterwards."""
    fresh = f"zmt-{uuid.uuid4().hex[:12]}"
    opened: list[ChromaVectorIndex] = []
    names = {fresh}
    host, port = request.getfixturevalue("chroma_server") if request.param == "server" else ("", 0)

    def open_(model_id: str = "m", dims: int = DIMS, name: str = fresh, **kw: Any) -> ChromaVectorIndex:
        names.add(name)
        if request.param == "local":
            index = ChromaVectorIndex.local(tmp_path / "chroma", name, model_id, dims, **kw)
        else:
            index = ChromaVectorIndex.server(host, port, name, model_id, dims, **kw)
        opened.append(index)
        return index

    yield open_
    for index in opened:
        index.close()
    if request.param == "server":
        import chromadb

        client = chromadb.HttpClient(host=host, port=port)
        for name in names:
            drop_chroma_index(client, name)


class TestChroma(VectorIndexConformance):
    @pytest.fixture
    def open_index(self, open_chroma: Opener) -> Opener:
        return open_chroma


def test_each_scope_has_its_own_collection(open_chroma: Opener) -> None:
    index = open_chroma()
    scopes = [Scope(user_id="foo"), Scope(user_id="foobar"), Scope(user_id="zoë", namespace="a/b c")]
    notes = [make_note(s, s.key) for s in scopes]
    put(index, notes, [unit(0)] * 3)
    for s, n in zip(scopes, notes, strict=True):
        col = index._client.get_collection(collection_name(index.index, s.key))
        assert col.get(include=[])["ids"] == [n.id]  # a query reads this collection only, no scope filter
        assert col.metadata["zm_scope"] == s.key and col.metadata["zm_index"] == index.index
    names = {collection_name(index.index, s.key) for s in scopes}
    assert len(names) == 3 and all(3 <= len(n) <= 63 for n in names)
    assert collection_name("x" * 500, Scope().key).startswith("x" * 24 + "-")
    assert collection_name("..weird name!", Scope().key).startswith("weird_name-")
    assert collection_name("a", Scope().key) != collection_name("a", Scope(user_id="other").key)
    assert collection_name("a", Scope().key) != collection_name("b", Scope().key) != collection_name("a", None)


def test_two_indexes_on_one_client_never_meet(open_chroma: Opener) -> None:
    """Two memories sharing a server (or a folder) by index name: neither reads nor drops the other's data."""
    mine = open_chroma()
    s = Scope(user_id="shared-scope")
    a = make_note(s, "mine")
    put(mine, [a], [unit(0)])
    other_name = f"zmt-{uuid.uuid4().hex[:12]}"
    other = ChromaVectorIndex(mine._client, other_name, "m", DIMS, mine.where)
    try:
        b = make_note(s, "theirs")
        put(other, [b], [unit(0)])
        assert [h.id for h in mine.query(unit(0), s, k=5)] == [a.id]
        assert [h.id for h in other.query(unit(0), s, k=5)] == [b.id]
        other.drop_scope(s)
        assert mine.ids() == {a.id} and other.ids() == set()
        with pytest.raises(EmbeddingModelMismatch, match="model"):  # each index records its own model
            ChromaVectorIndex(mine._client, other_name, "another-model", DIMS, mine.where)
    finally:
        drop_chroma_index(mine._client, other_name)


def test_a_foreign_collection_under_our_name_is_refused(open_chroma: Opener) -> None:
    index = open_chroma()
    s = Scope(user_id="forged")
    name = collection_name(index.index, s.key)
    index._client.create_collection(name, metadata={"zm_index": index.index, "zm_scope": "someone\x1felse\x1fx"},
                                    embedding_function=None)
    with pytest.raises(StoreCorrupt, match="refusing to mix"):
        index.query(unit(0), s, k=3)
    with pytest.raises(StoreCorrupt):
        put(index, [make_note(s, "x")], [unit(0)])


def test_collections_are_cached_within_a_bound(open_chroma: Opener) -> None:
    index = open_chroma(cache_size=2)
    scopes = [Scope(user_id=f"c{i}") for i in range(5)]
    notes = [make_note(s, s.key) for s in scopes]
    for n in notes:
        put(index, [n], [unit(0)])
    for s, n in zip(scopes, notes, strict=True):
        assert [h.id for h in index.query(unit(0), s, k=1)] == [n.id]
        assert len(index._cache) <= 2


def test_a_collection_dropped_by_another_process_is_reopened(open_chroma: Opener) -> None:
    index = open_chroma()
    s = Scope(user_id="dropped-elsewhere")
    a = make_note(s, "a")
    put(index, [a], [unit(0)])
    index._client.delete_collection(collection_name(index.index, s.key))  # behind the cached handle
    assert index.query(unit(0), s, k=3) == []
    put(index, [a], [unit(0)])
    assert [h.id for h in index.query(unit(0), s, k=3)] == [a.id]


def test_a_local_folder_is_locked_while_open(tmp_path: Path) -> None:
    path = tmp_path / "chroma"
    index = ChromaVectorIndex.local(path, "zm", "m", DIMS)
    with pytest.raises(StoreLocked, match="Chroma folder"):
        ChromaVectorIndex.local(path, "zm", "m", DIMS)
    code = ("import sys; from zettelmem.errors import StoreLocked; from zettelmem.vectors.chroma import "
            "ChromaVectorIndex as C\ntry:\n    C.local(__import__('pathlib').Path(sys.argv[1]), 'other', 'm', 8)\n"
            "except StoreLocked:\n    sys.exit(3)\n")
    assert subprocess.run([sys.executable, "-c", code, str(path)], timeout=120).returncode == 3
    index.close()
    index.close()
    ChromaVectorIndex.local(path, "zm", "m", DIMS).close()


def test_server_down_is_backend_unavailable() -> None:
    port = free_port()
    with pytest.raises(BackendUnavailable, match=f"127.0.0.1:{port}"):
        ChromaVectorIndex.server("127.0.0.1", port, "zmt-nothing", "m", DIMS)
