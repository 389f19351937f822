"""One Chroma collection per scope, through Memory: the old single-collection layout migrated on open.

``tests/fixtures/legacy_<embedder>/`` are stores written by the code of commit
06b6dcd (one collection for every scope, filtered by metadata), with the dense
answers that code gave in ``legacy_<embedder>.json`` (see ``make_legacy_stores.py``).
The new code must open them, move every vector into its scope's collection,
drop the old collection, and give the same answers, locally and on a server.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from zettelmem import Memory, Scope, Settings
from zettelmem.config import ChromaServerConfig, EmbeddingConfig, HashingEmbeddingConfig, OnnxEmbeddingConfig
from zettelmem.errors import EmbeddingModelMismatch, StoreError
from zettelmem.filters import Filter
from zettelmem.models import MemoryType
from zettelmem.testing.vectors import drop_chroma_index
from zettelmem.vectors import chroma_legacy
from zettelmem.vectors.chroma import ChromaVectorIndex, collection_name

FIXTURES = Path(__file__).parent / "fixtures"
LEGACY = "zettelmem_notes"  # the collection setting the fixtures were written with
FILTERS: dict[str, Filter] = {  # as in make_legacy_stores.py
    "none": Filter(),
    "dogs": Filter(tags_any=("dogs",)),
    "semantic": Filter(memory_types=(MemoryType.SEMANTIC,)),
    "since": Filter(since=datetime(2024, 5, 1, 14, 0, tzinfo=UTC)),
}
EMBEDDERS: dict[str, EmbeddingConfig] = {"hashing": HashingEmbeddingConfig(), "onnx": OnnxEmbeddingConfig()}


def _legacy(name: str, tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    home = tmp_path / f"legacy_{name}"
    shutil.copytree(FIXTURES / f"legacy_{name}", home)
    return home, json.loads((FIXTURES / f"legacy_{name}.json").read_text())


def _same_answers(index: ChromaVectorIndex, embed: Any, expected: dict[str, Any]) -> None:
    """Every scope's ids, metadata and dense top-5 (per filter) are what the old code gave."""
    for entry in expected["scopes"]:
        scope = Scope(**entry["scope"])
        assert sorted(index.ids(scope)) == entry["ids"], scope
        assert index.metadata(entry["ids"], scope) == entry["metadata"]
        for key, want in entry["answers"].items():
            query, flt = key.split("|")
            got = index.query(embed(query), scope, 5, FILTERS[flt])
            assert [round(h.similarity, 4) for h in got] == pytest.approx([round(s, 4) for _, s in want], abs=2e-4)
            cut = want[-1][1] + 1e-4 if len(want) == 5 else -2.0  # ties at the cut may pick either note
            assert {h.id for h in got if h.similarity > cut} == {i for i, s in want if s > cut}, key


def _collections(client: Any) -> set[str]:
    return {c.name for c in client.list_collections()}


@pytest.mark.parametrize("embedder", ["hashing", "onnx"])
def test_a_legacy_folder_is_migrated_on_open(embedder: str, tmp_path: Path) -> None:
    home, expected = _legacy(embedder, tmp_path)
    settings = Settings(home=home, embedding=EMBEDDERS[embedder], use_llm=False)
    with Memory(settings) as mem:
        index = mem.aio.vectors
        assert isinstance(index, ChromaVectorIndex)
        scopes = [Scope(**e["scope"]) for e in expected["scopes"]]
        assert _collections(index._client) == {collection_name(LEGACY, None)} | {
            collection_name(LEGACY, s.key) for s in scopes}  # the old collection is gone
        assert set(index.scopes()) == set(scopes)
        _same_answers(index, lambda q: mem.aio.embedder.embed([q])[0], expected)
        report = mem.check()
        assert report.ok and report.notes == report.vectors == sum(len(e["ids"]) for e in expected["scopes"])
        assert mem.search("Who is the vet for the puppy?", scope=scopes[0], k=3)
        mem.add("Biscuit learned to sit.", scope=scopes[0])
    with Memory(settings) as mem:  # a second open has nothing left to migrate
        assert mem.check().ok and mem.stats(scopes[0])["vectors"] == len(expected["scopes"][0]["ids"]) + 1


@pytest.mark.chroma_server
def test_a_legacy_server_collection_is_migrated_on_open(tmp_path: Path, chroma_server: tuple[str, int]) -> None:
    """The same fixture's vectors in a layout-1 collection on a server, opened by a Memory."""
    import chromadb

    host, port = chroma_server
    home, expected = _legacy("hashing", tmp_path)
    name = f"zmt-{uuid.uuid4().hex[:12]}"
    old = chromadb.PersistentClient(path=str(home / "chroma")).get_collection(LEGACY, embedding_function=None)
    rows = old.get(include=["embeddings", "metadatas"])
    server = chromadb.HttpClient(host=host, port=port)
    col = server.create_collection(name, metadata={"hnsw:space": "cosine", "zm_model": expected["model"],
                                                   "zm_dims": expected["dims"]}, embedding_function=None)
    col.upsert(ids=rows["ids"], embeddings=rows["embeddings"], metadatas=rows["metadatas"])
    settings = Settings(home=home, embedding=HashingEmbeddingConfig(), use_llm=False,
                        vectors=ChromaServerConfig(host=host, port=port, collection=name))
    try:
        with Memory(settings) as mem:
            assert name not in _collections(server)
            _same_answers(mem.aio.vectors, lambda q: mem.aio.embedder.embed([q])[0], expected)  # type: ignore[arg-type]
            assert mem.check().ok
    finally:
        drop_chroma_index(server, name)


def test_an_interrupted_migration_finishes_on_the_next_open(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home, expected = _legacy("hashing", tmp_path)
    path, model, dims = home / "chroma", expected["model"], expected["dims"]
    total = sum(len(e["ids"]) for e in expected["scopes"])
    monkeypatch.setattr(chroma_legacy, "PAGE", 5)
    real_upsert, calls = ChromaVectorIndex.upsert, [0]

    def failing_upsert(self: ChromaVectorIndex, *args: Any) -> None:
        calls[0] += 1
        if calls[0] == 3:
            raise StoreError("killed mid-copy")
        real_upsert(self, *args)

    monkeypatch.setattr(ChromaVectorIndex, "upsert", failing_upsert)
    with pytest.raises(StoreError, match="mid-copy"):
        ChromaVectorIndex.local(path, LEGACY, model, dims)
    monkeypatch.setattr(ChromaVectorIndex, "upsert", real_upsert)

    def failing_drop(client: Any, col: Any) -> None:
        col.delete(ids=col.get(include=[], limit=3)["ids"])  # part of the old records are gone
        raise StoreError("killed mid-drop")

    real_drop = chroma_legacy._drop
    monkeypatch.setattr(chroma_legacy, "_drop", failing_drop)
    with pytest.raises(StoreError, match="mid-drop"):
        ChromaVectorIndex.local(path, LEGACY, model, dims)
    monkeypatch.setattr(chroma_legacy, "_drop", real_drop)
    index = ChromaVectorIndex.local(path, LEGACY, model, dims)
    try:
        assert LEGACY not in _collections(index._client) and index.count() == total
        from zettelmem.embeddings import make_embedder

        embedder = make_embedder(HashingEmbeddingConfig())
        _same_answers(index, lambda q: embedder.embed([q])[0], expected)
    finally:
        index.close()


def test_a_legacy_store_of_another_model_is_refused_and_left_alone(tmp_path: Path) -> None:
    home, expected = _legacy("hashing", tmp_path)
    with pytest.raises(EmbeddingModelMismatch, match=expected["model"]):
        ChromaVectorIndex.local(home / "chroma", LEGACY, "another-model", expected["dims"])
    index = ChromaVectorIndex.local(home / "chroma", "unrelated-index", "another-model", 3)
    try:
        assert LEGACY in _collections(index._client) and index.scopes() == []
    finally:
        index.close()


@pytest.fixture
def mem(tmp_path: Path) -> Iterator[Memory]:
    with Memory(Settings(home=tmp_path / "h", embedding=HashingEmbeddingConfig(), use_llm=False)) as m:
        yield m


def test_deleting_a_scopes_last_note_drops_its_collection(mem: Memory) -> None:
    a, b = Scope(user_id="a"), Scope(user_id="b")
    ids = [r.note.id for r in mem.add_many(["one note", "two notes"], scope=a)]
    mem.add("another scope", scope=b)
    index = mem.aio.vectors
    assert isinstance(index, ChromaVectorIndex)
    name = collection_name(index.index, a.key)
    assert name in _collections(index._client)
    mem.delete(ids[0], a)
    assert name in _collections(index._client)
    mem.delete(ids[1], a)
    assert name not in _collections(index._client) and index.scopes() == [b]
    assert mem.search("note", scope=a) == [] and mem.check().ok and mem.stats(b)["vectors"] == 1


def test_check_and_repair_scope_by_scope(mem: Memory) -> None:
    a, ghost = Scope(user_id="a"), Scope(user_id="ghost")
    ids = [r.note.id for r in mem.add_many(["alpha one", "alpha two", "alpha three"], scope=a)]
    index = mem.aio.vectors
    assert isinstance(index, ChromaVectorIndex)
    index.delete([ids[0]], a)  # a note without its vector
    index.upsert(["orphan"], np.ones((1, index.dims), dtype=np.float32),
                 [{"scope": ghost.key, "version": 1, "text_hash": "x"}])  # vectors of a scope with no notes
    report = mem.check()
    assert report.missing_vectors == [ids[0]] and report.orphan_vectors == ["orphan"] and not report.ok
    assert mem.check(scope=a).orphan_vectors == [] and mem.check(scope=ghost).orphan_vectors == ["orphan"]
    fixed = mem.check(repair=True)
    assert fixed.repaired == 2 and mem.check().ok and index.scopes() == [a]


def test_one_vector_write_per_add(mem: Memory, monkeypatch: pytest.MonkeyPatch) -> None:
    """A single add writes its vector and its evolved neighbours' metadata in one index call."""
    from bench.bench_common import synth_memories

    index = mem.aio.vectors
    calls: list[str] = []

    def spy(name: str) -> Any:
        real = getattr(index, name)

        def call(*args: Any) -> Any:
            calls.append(name)
            return real(*args)

        return call

    for name in ("upsert", "update_metadata"):
        monkeypatch.setattr(index, name, spy(name))
    scope = Scope(user_id="loop")
    for m in synth_memories(40):
        before = len(calls)
        mem.add(m["content"], scope, event_time=m["event_time"], provenance=m["provenance"])
        assert calls[before:] == ["upsert"]
    evolved = [n for n in mem.list(scope) if n.version > 1]
    assert evolved, "the offline evolver rewrote no neighbour; the test needs one"
    assert mem.check().ok  # the neighbours' vector metadata follow their new versions
