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
from zettelmem.errors import NoteNotFound
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


def _files_with(home: Path, word: str) -> list[str]:
    return [str(p) for p in home.rglob("*") if p.is_file() and word.lower().encode() in p.read_bytes().lower()]


def _neo4j_count(store: Any, marker: str) -> int:
    """Nodes and relationships with any property (lists included) that contains ``marker``."""
    text = ("CASE WHEN x[k] IS :: LIST<ANY> THEN reduce(s = '', e IN x[k] | s + ' ' + toString(e)) "
            "ELSE toString(x[k]) END")
    return sum(int(store.run_cypher(f"MATCH {p} WHERE any(k IN keys(x) WHERE toLower({text}) CONTAINS toLower($m)) "
                                    "RETURN count(x) AS n", {"m": marker})[0]["n"]) for p in ("(x)", "()-[x]->()"))


def _topic_of(m: Memory, scope: Scope, member: str) -> Any:
    return next(t for t in m.list(scope) if is_topic(t) and member in t.metadata["members"])


def test_hard_forget_of_a_member_rebuilds_its_topic_note(mem: tuple[Memory, Scope], tmp_path: Path,
                                                         request: pytest.FixtureRequest, tag: str) -> None:
    m, scope = mem
    marker = f"Quorvexalind{tag}"
    ana = [ANA[0].replace("every morning", f"for {marker} every morning"), *ANA[1:]]
    ids = _add(m, scope, ana)
    secret = ids[ana[0]]
    m.consolidate(scope=scope)
    topic = _topic_of(m, scope, secret)
    assert len(topic.metadata["members"]) == 3 and marker in topic.content  # precondition: a 3-member topic
    assert any(marker in c.model_dump_json() for c in m.history(topic.id, scope))  # its history quotes it
    before = {n.id: n for n in m.list(scope) if not is_topic(n)}

    report = m.forget(secret, scope, hard=True)

    assert report.topics_rebuilt == [topic.id] and report.topics_dissolved == []
    rebuilt = m.get(topic.id, scope)
    rest = [i for i in topic.metadata["members"] if i != secret]
    assert rebuilt.metadata["members"] == rest and rebuilt.version == topic.version + 1
    assert all(before[i].content in rebuilt.content for i in rest)  # extractive text of the remaining members
    assert marker.lower() not in rebuilt.model_dump_json().lower()  # nor in its keywords or entities
    history = m.history(topic.id, scope)
    assert history[-1].kind == "consolidate" and history[-1].trigger is None
    assert all(marker.lower() not in c.model_dump_json().lower() and secret not in c.model_dump_json()
               for c in history)
    links = [lk for lk in m.links(topic.id, scope) if lk.source == topic.id]
    assert {lk.target for lk in links if lk.relation == Relation.SUMMARIZES} == set(rest)
    hits = m.search("sourdough bread bakery", scope=scope, k=10)
    assert all(secret not in h.members for h in hits) and any(h.note.id == topic.id for h in hits)
    for n in m.list(scope):  # the remaining members are untouched
        if not is_topic(n):
            assert n == before[n.id]
    assert m.check(scope=scope).ok
    assert _files_with(tmp_path, marker) == []
    if m.settings.graph.backend == "neo4j":
        assert _neo4j_count(request.getfixturevalue("neo4j_store"), marker) == 0


def test_a_topic_note_left_with_one_member_is_dissolved(mem: tuple[Memory, Scope]) -> None:
    m, scope = mem
    ids = _add(m, scope)
    m.consolidate(scope=scope)
    ben = [ids[t] for t in BEN]
    topic = _topic_of(m, scope, ben[0])
    assert sorted(topic.metadata["members"]) == sorted(ben)
    report = m.forget(ben[0], scope, hard=True)
    assert report.topics_dissolved == [topic.id] and report.topics_rebuilt == []
    with pytest.raises(NoteNotFound):
        m.get(topic.id, scope)
    assert m.get(ben[1], scope).content == BEN[1]  # the other member stays, free to join a later topic note
    assert all(lk.relation != Relation.SUMMARIZES for lk in m.links(ben[1], scope))
    assert topic.id not in {h.note.id for h in m.search("chess club", scope=scope, k=10)}
    assert m.check(scope=scope).ok


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
