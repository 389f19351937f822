"""Multi-step search: a fact two hops away, why-paths, topic notes, and a bounded budget, on NetworkX and Neo4j."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from zettelmem import Memory, Note, Provenance, Reason, Relation, Scope, SearchHit, Settings
from zettelmem._cards import reason_text
from zettelmem.config import (
    AgentsConfig,
    ConsolidationConfig,
    HashingEmbeddingConfig,
    MultiStepConfig,
    SearchConfig,
)
from zettelmem.engine.consolidate import is_topic
from zettelmem.engine.search_multistep import collapse_members
from zettelmem.errors import ZettelmemError
from zettelmem.stores.base import GetLinks, GetNotes
from zettelmem.testing import purge_neo4j

QUERY = "In which city does Ana's sister work?"
FIRST = "Ana's sister Clara came to visit Ana in the city"  # the direct hit
MIDDLE = "Clara does shifts in the hospital downtown"  # one link from FIRST
FAR = "The hospital, which is downtown, is in Lisbon"  # two links from FIRST
UNRELATED = "Clara likes the bike chain"  # linked from FIRST, nothing to do with the query
DISTRACTORS = [f"Ana went to the city {x}" for x in ("park", "museum", "harbour", "market", "cathedral", "zoo", "bridge")]
OTHERS = [f"Bob fixed the bike chain number {i}" for i in range(8)]


#: two steps; a reached note scores its seed's x 0.9 (relevance ignored once over the cosine floor), no feedback
PATH_ONLY = MultiStepConfig(steps=2, decay=0.9, relevance=0, feedback=0)


def _settings(home: Path, graph: Any = None, **search: Any) -> Settings:
    extra = {"graph": graph} if graph is not None else {}
    search.setdefault("multistep", PATH_ONLY)
    return Settings(home=home, embedding=HashingEmbeddingConfig(), use_llm=False,
                    agents=AgentsConfig(max_links=0, evolve=False, truth=False),
                    search=SearchConfig(dense_k=3, lexical_k=3, thread_weight=0, min_score_notes=0, **search),
                    **extra)


@pytest.fixture(params=["networkx", pytest.param("neo4j", marks=pytest.mark.neo4j)])
def backend(request: pytest.FixtureRequest) -> Iterator[tuple[Any, Scope]]:
    """(graph config or None, a fresh scope); Neo4j scopes are purged afterwards."""
    tag = uuid.uuid4().hex[:10]
    scope = Scope(user_id=f"zmt-{tag}-multistep")
    if request.param == "networkx":
        yield None, scope
        return
    store = request.getfixturevalue("neo4j_store")
    yield request.getfixturevalue("neo4j_config"), scope
    purge_neo4j(store, [scope, Scope(user_id=scope.user_id + "x")], tag)  # and the look-alike scope


def _chain(m: Memory, scope: Scope) -> dict[str, str]:
    """The crafted store: FIRST -> MIDDLE -> FAR (user links), distractors, unrelated notes."""
    ids = {t: m.add(t, scope=scope).note.id for t in [FIRST, MIDDLE, FAR, UNRELATED, *DISTRACTORS, *OTHERS]}
    m.link(ids[FIRST], ids[MIDDLE], scope, weight=0.9)
    m.link(ids[MIDDLE], ids[FAR], scope, weight=0.9)
    m.link(ids[FIRST], ids[UNRELATED], scope, weight=0.9)
    return ids


def test_a_fact_two_hops_away_is_found_by_multistep_only(tmp_path: Path, backend: tuple[Any, Scope]) -> None:
    graph, scope = backend
    with Memory(_settings(tmp_path, graph)) as m:
        ids = _chain(m, scope)
        one = [h.note.id for h in m.search(QUERY, scope=scope, k=4)]  # one step, graph expansion on
        hits = m.search(QUERY, scope=scope, k=4, multistep=True)
    assert ids[FIRST] in one and ids[FAR] not in one and ids[MIDDLE] not in one
    got = {h.note.id: h for h in hits}
    assert ids[FAR] in got, "multi-step search walks FIRST -> MIDDLE -> FAR"
    assert ids[UNRELATED] not in got  # re-scored against the query: under the cosine floor
    step = [r for r in got[ids[FAR]].why if r.kind == "step"]
    assert step and step[0].via == ids[MIDDLE] and step[0].path == [ids[FIRST]]
    assert step[0].hop == "link" and step[0].relation == Relation.RELATES_TO
    labels = {ids[FIRST]: "FIRST", ids[MIDDLE]: "MIDDLE"}
    assert "step 3: via link relates_to from MIDDLE" in got[ids[FAR]].explain(labels)
    assert "path FIRST → MIDDLE" in got[ids[FAR]].explain(labels)


def test_the_walk_never_returns_what_search_hides(tmp_path: Path, backend: tuple[Any, Scope]) -> None:
    graph, scope = backend
    with Memory(_settings(tmp_path, graph)) as m:
        ids = _chain(m, scope)
        assert ids[FAR] in [h.note.id for h in m.search(QUERY, scope=scope, k=4, multistep=True)]
        m.forget(ids[FAR], scope)  # soft: hidden from search, kept for history
        assert ids[FAR] not in [h.note.id for h in m.search(QUERY, scope=scope, k=20, multistep=True)]
        other = Scope(user_id=scope.user_id + "x")  # look-alike scope: the walk never leaves its own
        m.add(FIRST, scope=other)
        assert all(h.note.scope == other for h in m.search(QUERY, scope=other, k=20, multistep=True))


def test_multistep_is_a_setting_and_a_search_argument(tmp_path: Path) -> None:
    scope = Scope(user_id="u")
    with Memory(_settings(tmp_path, multistep=PATH_ONLY.model_copy(update={"enabled": True}))) as m:
        ids = _chain(m, scope)
        on = [h.note.id for h in m.search(QUERY, scope=scope, k=4)]
        off = [h.note.id for h in m.search(QUERY, scope=scope, k=4, multistep=False)]
        with pytest.raises(ZettelmemError):
            m.search(QUERY, scope=scope, multistep="yes")  # type: ignore[arg-type]
    assert ids[FAR] in on and ids[FAR] not in off


class _Reads:
    """Counts what a search reads from the graph store and the vector index."""

    def __init__(self, m: Memory, monkeypatch: pytest.MonkeyPatch) -> None:
        self.links: list[int] = []  # ids per GetLinks op
        self.notes: list[int] = []  # ids per GetNotes op
        self.vectors: list[int] = []  # ids per get_vectors call
        graph, vectors = m.aio.parts.graph, m.aio.parts.vectors
        abatch, get_vectors = graph.abatch, vectors.get_vectors

        async def counting_abatch(ops: Sequence[Any]) -> list[Any]:
            for op in ops:
                if isinstance(op, GetLinks):
                    self.links.append(len(op.note_ids))
                elif isinstance(op, GetNotes):
                    self.notes.append(len(op.ids))
            return await abatch(ops)

        def counting_vectors(ids: Sequence[str], scope: Scope) -> Any:
            self.vectors.append(len(ids))
            return get_vectors(ids, scope)

        monkeypatch.setattr(graph, "abatch", counting_abatch)
        monkeypatch.setattr(vectors, "get_vectors", counting_vectors)


def test_each_step_reads_a_bounded_number_of_rows(tmp_path: Path, backend: tuple[Any, Scope],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    graph, scope = backend
    budget = MultiStepConfig(steps=3, seeds=3, candidates=4, feedback=2)
    with Memory(_settings(tmp_path, graph, expand=False, multistep=budget)) as m:
        items = [f"The garden has {w} roses and tulips in bed {i}" for i, w in
                 enumerate(["red", "white", "pink", "yellow", "wild", "old", "tall", "small"] * 5)]
        ids = [r.note.id for r in m.add_many(items, scope=scope)]
        for i, a in enumerate(ids):  # a mesh: every note linked to the next six
            for b in ids[i + 1:i + 7]:
                m.link(a, b, scope, weight=0.8)
        reads = _Reads(m, monkeypatch)
        m.search("roses in the garden", scope=scope, k=3, multistep=False)
        one_step = (list(reads.links), list(reads.notes), list(reads.vectors))
        for counted in (reads.links, reads.notes, reads.vectors):
            counted.clear()
        hits = m.search("roses in the garden", scope=scope, k=3, multistep=True)
    assert one_step[0] == [] and one_step[2] == []  # one step, expansion off: no links, no stored vectors
    assert len(reads.links) == budget.steps and all(n <= budget.seeds for n in reads.links)
    assert all(n <= budget.candidates + budget.seeds for n in reads.vectors)
    # the first step's notes (dense + lexical lists), the feedback's (its two lists, as deep), then at
    # most `candidates` per step
    assert reads.notes[0] <= 3 + 3 and all(n <= max(budget.candidates, 3 + 3) for n in reads.notes[1:])
    assert sum(reads.notes) < len(ids) and any(r.kind == "step" for h in hits for r in h.why)


def test_collapse_lists_a_topic_notes_members_once(tmp_path: Path) -> None:
    scope = Scope(user_id="topics")
    settings = Settings(home=tmp_path, embedding=HashingEmbeddingConfig(), use_llm=False,
                        consolidation=ConsolidationConfig(enabled=True, join_threshold=0.2, max_members=4),
                        search=SearchConfig(multistep=MultiStepConfig(collapse=True)))
    ana = ["Ana bakes sourdough bread at her bakery every morning.",
           "Ana's bakery sells sourdough bread and rye bread.",
           "The bakery of Ana opened a second oven for bread.",
           "Ana bakes rye bread with her sourdough starter."]
    with Memory(settings) as m:
        m.add_many([dict(content=t, provenance=Provenance(speaker="Ana", session=str(i)))
                    for i, t in enumerate(ana)], scope=scope)
        flat = m.search("Ana bread bakery", scope=scope, k=10, multistep=False)
        hits = m.search("Ana bread bakery", scope=scope, k=10)  # topic notes on: multi-step on by default

    def below_their_topic(found: list[SearchHit]) -> set[str]:
        listed = [h.note.id for h in found]
        return {i for h in found if is_topic(h.note) for i in h.members
                if i in listed[listed.index(h.note.id) + 1:]}

    assert any(is_topic(h.note) for h in hits), "the topic note over the hits is returned"
    assert below_their_topic(flat), "one step lists members again below their topic note"
    assert not below_their_topic(hits)  # collapsed: the topic note's hit covers them
    assert {h.note.id for h in flat} <= {h.note.id for h in hits} | {i for h in hits for i in h.members}


def test_multistep_is_on_by_default_only_with_topic_notes(tmp_path: Path) -> None:
    scope = Scope(user_id="u")

    def ranked(m: Memory, multistep: bool | None = None) -> list[tuple[str, str]]:
        return [(h.note.id, h.explain()) for h in m.search(QUERY, scope=scope, k=4, multistep=multistep)]

    with Memory(_settings(tmp_path / "plain")) as m:  # consolidation off: one step unless asked
        _chain(m, scope)
        assert ranked(m) == ranked(m, False) != ranked(m, True)
    topics = _settings(tmp_path / "topics").model_copy(update={"consolidation": ConsolidationConfig(enabled=True)})
    with Memory(topics) as m:
        _chain(m, scope)
        assert ranked(m) == ranked(m, True) != ranked(m, False)


def test_collapse_keeps_members_ranked_above_their_topic_note() -> None:
    topic = Note(content="Ana: a … b", metadata={"zm_level": 1, "members": ["a", "b"]})
    notes = {"a": Note(content="a"), "b": Note(content="b"), "c": Note(content="c"), topic.id: topic}
    assert collapse_members(["a", topic.id, "b", "c"], notes) == ["a", topic.id, "c"]


def test_step_reasons_in_words() -> None:
    topic = Reason(kind="step", rank=2, score=0.41, via="abcdef0123", relation=Relation.SUMMARIZES, hop="topic",
                   path=["9999999999"])
    member = topic.model_copy(update={"hop": "member", "path": []})
    feedback = Reason(kind="step", rank=2, score=3.2, hop="feedback", via="bakery, rye")
    assert reason_text(topic) == "step 2: via topic note abcdef01 (cosine 0.410; path 99999999 → abcdef01)"
    assert reason_text(member, {"abcdef0123": "Ana 1"}) == "step 2: topic note over Ana 1 (cosine 0.410; path Ana 1)"
    assert reason_text(feedback).startswith("step 2: query fed back with bakery, rye")
