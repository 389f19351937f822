"""Cross-session links at write time: notes of earlier sessions found by name beyond the vector top-k."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from zettelmem import Memory, Provenance, Relation, Scope, Settings
from zettelmem.agents.base import Candidate, LinkProposal
from zettelmem.config import AgentsConfig
from zettelmem.engine.consolidate import is_topic
from zettelmem.testing import purge_neo4j

SCOPE = Scope(user_id="cross")
EARLIER = "Ben said Ana signed the lease for a shop downtown last spring."
FILLER = [  # closer to the later note than the earlier one is, and naming others
    "Marta is thinking about new recipes for the restaurant on weekends.",
    "Luis is thinking about new recipes for his cafe on weekends.",
    "Marta is thinking about new soup recipes for the diner on weekends.",
    "Luis keeps thinking about new recipes for the food truck on weekends.",
    "Marta is thinking about new dessert recipes for the cafe on weekends.",
    "Luis is thinking about new pizza recipes for the restaurant on weekends.",
]
LATER = "Ana is thinking about new recipes for the bakery on weekends."


@pytest.fixture(params=["networkx", pytest.param("neo4j", marks=pytest.mark.neo4j)])
def backend(request: pytest.FixtureRequest) -> Iterator[tuple[dict[str, Any], Scope]]:
    """Settings fields of the graph backend and a scope (on Neo4j its own, purged after)."""
    if request.param == "networkx":
        yield {}, SCOPE
        return
    tag = uuid.uuid4().hex[:10]
    store = request.getfixturevalue("neo4j_store")
    scope = Scope(user_id=f"zmt-{tag}-cross")
    try:
        yield {"graph": request.getfixturevalue("neo4j_config")}, scope
    finally:
        purge_neo4j(store, [scope], tag)


def _memory(home: Path, graph: dict[str, Any] | None = None, **agents: Any) -> Memory:
    return Memory(Settings(home=home, use_llm=False, agents=AgentsConfig(candidates=2, evolve=False, **agents),
                           **(graph or {})))


def _fill(m: Memory, scope: Scope = SCOPE) -> str:
    first = m.add(EARLIER, scope, provenance=Provenance(session="1", speaker="Cleo", turn=0)).note
    m.add_many([{"content": t, "provenance": Provenance(session=str(2 + i), speaker="Dan", turn=0)}
                for i, t in enumerate(FILLER)], scope=scope)
    return first.id


def _later(m: Memory, scope: Scope = SCOPE) -> Any:
    return m.add(LATER, scope, provenance=Provenance(session="9", speaker="Dan", turn=0))


def test_a_note_links_to_an_earlier_session_that_names_the_same_entity(
        tmp_path: Path, backend: tuple[dict[str, Any], Scope]) -> None:
    graph, scope = backend
    with _memory(tmp_path / "off", cross_session=0) as m:  # the vector top-k alone misses it
        first = _fill(m)
        assert first not in {lk.target for lk in _later(m).links}
    with _memory(tmp_path / "on", graph) as m:
        first = _fill(m, scope)
        r = _later(m, scope)
        cross = [lk for lk in r.links if lk.target == first]
        assert [lk.relation for lk in cross] == [Relation.SAME_ENTITY]
        assert "Ana" in cross[0].rationale and "session 1" in cross[0].rationale


def test_cross_session_candidates_are_bounded_and_skip_the_same_session(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[list[Candidate]] = []
    from zettelmem.agents.offline.linker import OfflineLinker

    real = OfflineLinker.link

    async def spy(self: OfflineLinker, note: Any, candidates: list[Candidate]) -> list[LinkProposal]:
        seen.append(list(candidates))
        return await real(self, note, candidates)

    monkeypatch.setattr(OfflineLinker, "link", spy)
    with _memory(tmp_path / "h", cross_session=2) as m:
        foods = ["rye bread", "croissants", "a lemon tart", "bagels", "scones", "a plum cake", "pretzels",
                 "brioche", "muffins"]
        m.add_many([{"content": f"On day {i} Ana baked {food} at the bakery.",
                     "provenance": Provenance(session=str(i % 3), speaker="Cleo", turn=i)}
                    for i, food in enumerate(foods)], scope=SCOPE)
        assert m.stats(SCOPE)["notes"] == len(foods)
        seen.clear()
        m.add("Ana sold the bread of the bakery.", SCOPE, provenance=Provenance(session="0", speaker="Cleo", turn=9))
        by_text = [c for c in seen[-1] if c.via == "text"]
        assert 1 <= len(by_text) <= 2  # the explicit bound
        assert all(c.note.provenance.session != "0" and not is_topic(c.note) for c in by_text)
        assert len({c.note.id for c in seen[-1]}) == len(seen[-1])  # no candidate offered twice


def test_named_links_have_their_own_budget_and_never_name_a_speaker() -> None:
    from zettelmem.agents.offline.linker import OfflineLinker
    from zettelmem.models import Note

    def n(text: str, speaker: str, session: str, entities: list[str]) -> Note:
        return Note(content=text, scope=SCOPE, entities=entities,
                    provenance=Provenance(speaker=speaker, session=session, turn=0))

    new = n("Mel, did Ana open the bakery yet?", "Caroline", "9", ["Mel", "Ana"])
    close = n("Mel, did you open the bakery yet?", "Caroline", "8", ["Mel"])
    ana = n("Ana signed the lease for a shop.", "Melanie", "1", ["Ana"])
    mel = n("Thanks Mel, see you at the shop.", "Caroline", "2", ["Mel"])
    linker = OfflineLinker(AgentsConfig(max_links=1, cross_session=1))
    links = linker.link_sync(new, [Candidate(note=close, similarity=0.9),
                                   Candidate(note=ana, similarity=0.2, via="text"),
                                   Candidate(note=mel, similarity=0.2, via="text")])
    # one link over max_links, for the name; "Mel" is Melanie's short form, a speaker: no link for it
    assert [lk.target_id for lk in links] == [close.id, ana.id] and links[1].relation == Relation.SAME_ENTITY
    assert "both mention Ana" in links[1].rationale and "session 1" in links[1].rationale
    off = OfflineLinker(AgentsConfig(max_links=1, cross_session=0)).link_sync(
        new, [Candidate(note=close, similarity=0.9), Candidate(note=ana, similarity=0.2, via="text")])
    assert [lk.target_id for lk in off] == [close.id]


def test_the_llm_joint_call_is_shown_the_earlier_session_too(tmp_path: Path) -> None:
    import json

    from zettelmem.agents.llm import llm_suite
    from zettelmem.agents.offline import offline_suite
    from zettelmem.llm import LLMSettings, ScriptedLLM

    def reply(messages: Any, schema: Any, task: str) -> dict[str, Any]:
        block = messages[1][1].split('<data name="memories">\n')[1].split("\n</data>")[0]
        return {"notes": [{"memory": m["id"], "keywords": ["recipes"], "tags": ["food"], "context": "",
                           "memory_type": "episodic", "links": []} for m in json.loads(block)]}

    shown = {}
    for cross in (0, 3):
        home = tmp_path / f"h{cross}"
        with _memory(home) as m:
            _fill(m)
        settings = Settings(home=home, use_llm=False,
                            agents=AgentsConfig(candidates=2, evolve=False, cross_session=cross))
        llm = ScriptedLLM(default=reply)
        with Memory(settings, agents=llm_suite(LLMSettings(), settings.agents, offline_suite(settings.agents),
                                               llm)) as m:
            _later(m)
        shown[cross] = EARLIER in llm.calls[-1].messages[1][1]
    assert shown == {0: False, 3: True}
