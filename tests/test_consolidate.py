"""Consolidation into topic notes: grouping, links, versions, revert, search, on NetworkX and Neo4j."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from zettelmem import Memory, Provenance, Relation, Scope, Settings
from zettelmem.config import ConsolidationConfig, HashingEmbeddingConfig
from zettelmem.engine.consolidate import TOPIC_TAG, is_topic, topic_key_tag
from zettelmem.testing import purge_neo4j

ANA = [
    "Ana bakes sourdough bread at her bakery every morning.",
    "Ana's bakery sells sourdough bread and rye bread.",
    "The bakery of Ana opened a second oven for bread.",
    "Ana bakes rye bread with her sourdough starter.",
]
BEN = [
    "Ben plays chess at the club on Tuesdays.",
    "Ben won a chess tournament at the club.",
]


@pytest.fixture(params=["networkx", pytest.param("neo4j", marks=pytest.mark.neo4j)])
def mem(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Memory, Scope]]:
    tag = uuid.uuid4().hex[:10]
    scope = Scope(user_id=f"zmt-{tag}-consol")
    extra: dict[str, Any] = {}
    if request.param == "neo4j":
        extra["graph"] = request.getfixturevalue("neo4j_config")
        store = request.getfixturevalue("neo4j_store")
    settings = Settings(home=tmp_path, embedding=HashingEmbeddingConfig(), use_llm=False,
                        consolidation=ConsolidationConfig(join_threshold=0.2, max_members=3), **extra)
    with Memory(settings) as m:
        yield m, scope
    if request.param == "neo4j":
        purge_neo4j(store, [scope], tag)


def _add(m: Memory, scope: Scope) -> dict[str, str]:
    items = [dict(content=t, provenance=Provenance(speaker="Ana", session=str(i))) for i, t in enumerate(ANA)]
    items += [dict(content=t, provenance=Provenance(speaker="Ben", session=str(i))) for i, t in enumerate(BEN)]
    return {r.note.content: r.note.id for r in m.add_many(items, scope=scope)}


def test_topic_notes_gather_a_speakers_notes(mem: tuple[Memory, Scope]) -> None:
    m, scope = mem
    ids = _add(m, scope)
    before = {n.id: n for n in m.list(scope)}
    report = m.consolidate(scope=scope)
    assert report.created, "similar notes of one speaker form a topic note"
    topics = [n for n in m.list(scope) if is_topic(n)]
    assert {t.id for t in topics} == set(report.created)
    ana_ids, ben_ids = {ids[t] for t in ANA}, {ids[t] for t in BEN}
    for t in topics:
        members = t.metadata["members"]
        assert 2 <= len(members) <= 3  # max_members
        assert set(members) <= ana_ids or set(members) <= ben_ids  # a topic note never mixes speakers
        assert TOPIC_TAG in t.tags and topic_key_tag(t.provenance.speaker or "") in t.tags
        links = [lk for lk in m.links(t.id, scope) if lk.source == t.id]
        assert {lk.target for lk in links if lk.relation == Relation.SUMMARIZES} == set(members)
        # extractive: every member's content is in the topic note's text, nothing else but the speaker
        assert all(before[i].content in t.content for i in members)
    # members are never rewritten
    for n in m.list(scope):
        if not is_topic(n):
            assert n == before[n.id]
    # a second pass finds every note placed or alone and writes nothing new
    again = m.consolidate(scope=scope)
    assert again.created == [] and again.grouped == 0


def test_joining_is_a_versioned_revertible_change_and_search_carries_members(mem: tuple[Memory, Scope]) -> None:
    m, scope = mem
    _add(m, scope)
    report = m.consolidate(scope=scope)
    assert report.changes  # a topic note grew past its first two members
    change = report.changes[0]
    assert change.kind == "consolidate" and "content" in change.after and "metadata" in change.after
    topic = m.get(change.note_id, scope)
    assert topic.version == change.version_after
    grown = len(topic.metadata["members"])
    undo = m.revert(change.id, scope)
    reverted = m.get(change.note_id, scope)
    assert undo.reverts == change.id
    assert len(reverted.metadata["members"]) == grown - 1 and reverted.content == change.before["content"]
    hits = m.search("sourdough bread bakery", scope=scope, k=10)
    topic_hits = [h for h in hits if is_topic(h.note)]
    assert topic_hits and all(h.members == h.note.metadata["members"] for h in topic_hits)
    assert all(h.members == [] for h in hits if not is_topic(h.note))
    assert m.check(scope=scope).ok


def test_consolidation_after_each_batch_when_enabled(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, embedding=HashingEmbeddingConfig(), use_llm=False,
                        consolidation=ConsolidationConfig(enabled=True, join_threshold=0.2))
    scope = Scope(user_id="batches")
    with Memory(settings) as m:
        for i, text in enumerate(ANA):
            m.add(text, scope=scope, provenance=Provenance(speaker="Ana", session=str(i)))
        topics = [n for n in m.list(scope) if is_topic(n)]
        assert len(topics) == 1 and len(topics[0].metadata["members"]) == len(ANA)
