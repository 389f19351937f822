"""migrate_store: an embedded store copied into Neo4j + a Chroma server (or another folder), verified."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from zettelmem import Memory, Provenance, Scope, Settings
from zettelmem.config import ChromaServerConfig, HashingEmbeddingConfig
from zettelmem.errors import ConfigurationError, EmbeddingModelMismatch
from zettelmem.migrate import migrate_store
from zettelmem.testing import drop_chroma_index, purge_neo4j

T0 = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
TEXTS = [
    "Alice adopted a beagle puppy named Biscuit in Porto.",
    "Biscuit chewed Alice's running shoes on the first night.",
    "Bob's sister Clara is a vet in Porto and can check Biscuit.",
    "Clara checked Biscuit on Monday; the puppy is healthy.",
    "Alice walks Biscuit by the Douro river every morning.",
    "Bob plays guitar in a band that rehearses on Thursdays.",
    "Bob's band has a concert in Lisbon next month.",
    "Alice prefers green tea over coffee.",
]
QUERIES = ["Who is the vet for the puppy?", "river walk", "concert in Lisbon", "tea or coffee"]


def _settings(home: Path, **kw: Any) -> Settings:
    return Settings(home=home, embedding=kw.pop("embedding", HashingEmbeddingConfig()), use_llm=False, **kw)


@pytest.fixture
def source(tmp_path: Path) -> tuple[Settings, list[Scope], str]:
    """An embedded store with two look-alike scopes, sessions, links, evolutions, an update and a revert."""
    tag = uuid.uuid4().hex[:10]
    scopes = [Scope(user_id=f"zmt-{tag}-alice"), Scope(user_id=f"zmt-{tag}-alice", agent_id="bot")]
    settings = _settings(tmp_path / "source")
    with Memory(settings) as mem:
        for j, scope in enumerate(scopes):
            items = [dict(content=t, event_time=T0 + timedelta(hours=i),
                          provenance=Provenance(session=f"s{j}", turn=i)) for i, t in enumerate(TEXTS[j::1])]
            results = mem.add_many(items, scope=scope)
            mem.evolve(scope=scope)
            change = mem.update(results[0].note.id, scope, tags=["dogs"], rationale="user")
            mem.revert(change.id, scope)
    return settings, scopes, tag


def _answers(settings: Settings, scopes: list[Scope]) -> list[Any]:
    with Memory(settings) as mem:
        return [[(h.note.id, round(h.score, 6), [w.kind for w in h.why]) for h in mem.search(q, scope=s, k=5)]
                for s in scopes for q in QUERIES]


def _ids(answers: list[Any]) -> list[list[str]]:
    return [[hit[0] for hit in hits] for hits in answers]


def _counts(settings: Settings, scopes: list[Scope]) -> list[dict[str, Any]]:
    with Memory(settings) as mem:
        return [{k: v for k, v in mem.stats(s).items() if k in ("notes", "links", "changes")} for s in scopes]


@pytest.fixture(params=["folder", pytest.param("neo4j+chroma-server", marks=pytest.mark.neo4j)])
def target(request: pytest.FixtureRequest, tmp_path: Path, source: Any) -> Iterator[Settings]:
    if request.param == "folder":
        yield _settings(tmp_path / "target")
        return
    host, port = request.getfixturevalue("chroma_server")
    store = request.getfixturevalue("neo4j_store")
    collection = f"zmt-{uuid.uuid4().hex[:12]}"
    yield _settings(tmp_path / "target", graph=request.getfixturevalue("neo4j_config"),
                    vectors=ChromaServerConfig(host=host, port=port, collection=collection))
    _, scopes, tag = source
    purge_neo4j(store, scopes, tag)
    import chromadb

    drop_chroma_index(chromadb.HttpClient(host=host, port=port), collection)


def test_migrate_copies_and_verifies(source: Any, target: Settings) -> None:
    settings, scopes, _ = source
    expected = _counts(settings, scopes)
    stages: set[str] = set()
    report = migrate_store(settings, target, progress=lambda stage, done, total: stages.add(stage), seed=7)
    assert report.ok, report.mismatches
    assert report.scopes == 2 and report.notes == sum(c["notes"] for c in expected) == report.vectors
    assert report.links == sum(c["links"] for c in expected) > 0
    assert report.changes == sum(c["changes"] for c in expected) > 0
    assert report.meta >= 3 and report.sampled == report.notes and not report.missing_vectors  # model + 2 tails
    assert stages == {"notes", "links", "changes", "meta", "verify"}
    assert _counts(target, scopes) == expected
    # same notes, links and vectors: the same answers. On the same backend exactly; across backends
    # lexical ranks come from each store's own full-text engine (SQLite FTS5 or Lucene, each with its
    # own BM25 scale and minimum score), so the best hit is the same and the top 5 mostly are
    moved, kept = _answers(target, scopes), _answers(settings, scopes)
    if target.graph.backend == settings.graph.backend:
        assert moved == kept
    else:
        for got, want in zip(_ids(moved), _ids(kept), strict=True):
            assert got[:1] == want[:1] and len(set(got) & set(want)) >= min(3, len(want)), (got, want)

    again = migrate_store(settings, target, seed=8)  # idempotent: a rerun changes nothing
    assert again.ok and again.notes == report.notes
    assert _counts(target, scopes) == expected
    with Memory(target) as mem:  # the session tails came along: the next turn follows the last one
        turn = Provenance(session="s0", turn=len(TEXTS))
        nxt = mem.add(dict(content="Biscuit slept all afternoon.", provenance=turn), scope=scopes[0])
        assert any(lk.relation.value == "follows" for lk in nxt.links)


def test_migrate_refuses_another_embedding_model(source: Any, tmp_path: Path) -> None:
    settings, _, _ = source
    other = _settings(tmp_path / "other", embedding=HashingEmbeddingConfig(dims=128))
    with pytest.raises(EmbeddingModelMismatch, match="hashing-256"):
        migrate_store(settings, other)
    with pytest.raises(ConfigurationError, match="same store"):
        migrate_store(settings, settings)
