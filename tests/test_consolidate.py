"""Consolidation into topic notes on NetworkX and Neo4j (more in the conformance suite,
:mod:`zettelmem.testing.consolidation`): grouping, delete of a member, the topic check."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from zettelmem import Memory, Provenance, Relation, Scope, Settings
from zettelmem.config import ConsolidationConfig, HashingEmbeddingConfig
from zettelmem.engine.consolidate import TOPIC_TAG, is_topic, topic_key_tag
from zettelmem.errors import InvalidInput, NoteNotFound
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


@pytest.fixture
def tag() -> str:
    return uuid.uuid4().hex[:10]


@pytest.fixture(params=["networkx", pytest.param("neo4j", marks=pytest.mark.neo4j)])
def mem(request: pytest.FixtureRequest, tmp_path: Path, tag: str) -> Iterator[tuple[Memory, Scope]]:
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


def _add(m: Memory, scope: Scope, ana: list[str] = ANA) -> dict[str, str]:
    items = [dict(content=t, provenance=Provenance(speaker="Ana", session=str(i))) for i, t in enumerate(ana)]
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


def test_delete_of_a_member_rebuilds_its_topic_note(mem: tuple[Memory, Scope]) -> None:
    m, scope = mem
    ids = _add(m, scope)
    m.consolidate(scope=scope)
    topic = next(t for t in m.list(scope) if is_topic(t) and len(t.metadata["members"]) == 3)
    gone = topic.metadata["members"][1]
    assert m.delete(gone, scope) == 1
    rebuilt = m.get(topic.id, scope)
    assert gone not in rebuilt.metadata["members"] and len(rebuilt.metadata["members"]) == 2
    assert next(t for t, i in ids.items() if i == gone) not in rebuilt.content
    assert m.check(scope=scope).ok


def test_check_reports_a_topic_note_whose_links_and_members_disagree(mem: tuple[Memory, Scope]) -> None:
    m, scope = mem
    _add(m, scope)
    m.consolidate(scope=scope)
    topic = next(t for t in m.list(scope) if is_topic(t))
    assert m.check(scope=scope).broken_topics == []
    m.unlink(topic.id, topic.metadata["members"][0], scope, relation="summarizes")
    report = m.check(scope=scope)
    assert report.broken_topics == [topic.id] and not report.ok


def test_consolidate_refuses_unknown_ids_and_writes_nothing(mem: tuple[Memory, Scope]) -> None:
    m, scope = mem
    ids = _add(m, scope)
    before = m.stats(scope)
    with pytest.raises(NoteNotFound):
        m.consolidate([ids[ANA[0]], ids[ANA[1]], "no-such-note"], scope=scope)
    with pytest.raises(NoteNotFound):  # an id of another scope is unknown here
        m.consolidate([ids[ANA[0]], ids[ANA[1]]], scope=Scope(user_id=scope.user_id + "x"))
    with pytest.raises(InvalidInput):
        m.consolidate(42, scope=scope)  # type: ignore[arg-type]
    assert m.stats(scope)["notes"] == before["notes"] and not [n for n in m.list(scope) if is_topic(n)]
