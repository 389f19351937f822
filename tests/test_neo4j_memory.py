"""The Memory API on Neo4j behaves as on the embedded NetworkX store (same scenario, same answers)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from zettelmem import Filter, Memory, MemoryType, Provenance, Scope, Settings
from zettelmem.config import HashingEmbeddingConfig
from zettelmem.testing import purge_neo4j

pytestmark = pytest.mark.neo4j

T0 = datetime(2024, 3, 2, 18, 0, tzinfo=UTC)
LINES = [
    ("Alice", "I just adopted a beagle puppy named Biscuit from the shelter in Porto."),
    ("Bob", "Congratulations! How is Biscuit settling in?"),
    ("Alice", "Biscuit chewed my running shoes, but the beagle loves long walks by the river."),
    ("Bob", "My sister Clara is a vet in Porto, she could check Biscuit."),
    ("Alice", "Clara checked Biscuit on Monday; the beagle puppy is healthy."),
    ("Bob", "Porto has a great river walk for dogs near the old bridge."),
]


def _settings(home: Path, graph: Any = None) -> Settings:
    extra = {"graph": graph} if graph is not None else {}
    return Settings(home=home, embedding=HashingEmbeddingConfig(), use_llm=False, **extra)


def scenario(mem: Memory, scope: Scope) -> dict[str, Any]:
    """Add, search, evolve, update, revert, time-travel, check; return what a user sees, id-free."""
    items = [dict(content=text, event_time=T0 + timedelta(minutes=i),
                  provenance=Provenance(session="s1", turn=i + 1, speaker=who)) for i, (who, text) in enumerate(LINES)]
    results = mem.add_many(items[:4], scope=scope)
    results += [mem.add(items[4], scope=scope), mem.add(items[5], scope=scope, memory_type=MemoryType.SEMANTIC)]
    text = {r.note.id: r.note.content for r in results}
    out: dict[str, Any] = {
        "links": sorted((text[lk.source], text[lk.target], lk.relation.value) for r in results for lk in r.links),
        "changes": sorted((text[c.note_id], c.kind, tuple(c.fields)) for r in results for c in r.changes),
    }
    hits = mem.search("Which vet could check the puppy?", scope=scope, k=4)
    out["search"] = [(h.note.content, sorted({w.kind for w in h.why})) for h in hits]
    out["filtered"] = [h.note.content for h in mem.search("river", scope=scope, where=Filter(
        memory_types=(MemoryType.SEMANTIC,)))]
    out["evolve"] = len(mem.evolve(scope=scope))
    first = results[0].note.id
    before = mem.get(first, scope)
    upd = mem.update(first, scope, tags=["dogs", "adoption"], rationale="user says so")
    marked = datetime.now(UTC)
    rev = mem.revert(upd.id, scope)
    out["history"] = [(c.kind, c.version_after - c.version_before) for c in mem.history(first, scope)][-2:]
    out["revert_restores"] = mem.get(first, scope).tags == before.tags and rev.reverts == upd.id
    out["as_of"] = mem.get(first, scope, as_of=marked).tags
    out["stats"] = {k: v for k, v in mem.stats(scope).items() if k in ("notes", "links", "changes")}
    out["check_ok"] = mem.check().ok
    return out


@pytest.fixture
def neo4j_scope(neo4j_store: Any) -> Iterator[Scope]:
    tag = uuid.uuid4().hex[:10]
    scope = Scope(user_id=f"zmt-{tag}-alice", agent_id="memtest")
    yield scope
    purge_neo4j(neo4j_store, [scope], tag)


def test_memory_on_neo4j_matches_networkx(tmp_path: Path, neo4j_config: Any, neo4j_store: Any,
                                          neo4j_scope: Scope) -> None:
    with Memory(_settings(tmp_path / "embedded")) as mem:
        reference = scenario(mem, neo4j_scope)
    with Memory(_settings(tmp_path / "neo4j", neo4j_config)) as mem:
        assert mem.aio.graph.name == "neo4j"
        got = scenario(mem, neo4j_scope)
    assert reference["links"] and reference["changes"] and reference["search"]
    # lexical ranks come from each store's own full-text engine (SQLite FTS5, Lucene), whose
    # BM25 variants differ a little: the same hits for the same reasons, the order may differ
    assert sorted(got.pop("search")) == sorted(reference.pop("search"))
    assert got == reference
