"""The consolidation part of the conformance suite: topic notes through ``Memory`` on every backend.

:class:`~zettelmem.testing.conformance.GraphStoreConformance` inherits these tests,
so every backend that runs the store suite also runs consolidation through the
same engine code path: grouping into topic notes with ``summarizes`` links,
versioned and revertible membership changes, search hits that carry their
members, members never rewritten, and a member's hard forget rebuilding (or
dissolving) its topic note without leaving its text anywhere.

A backend's test class provides, besides its ``store`` fixture, the two hooks of
:class:`~zettelmem.testing.memory_hooks.MemoryHooks` (``open_memory``, ``traces``),
shared with the truth part of the suite.

Each test works in the store suite's random scopes (``new_scope``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from zettelmem.errors import NoteNotFound
from zettelmem.models import Note, Provenance, Relation, Scope
from zettelmem.testing.memory_hooks import MemoryHooks, files_with

__all__ = ["ConsolidationConformance"]

ANA = [
    "Ana bakes sourdough bread at her bakery every morning.",
    "Ana's bakery sells sourdough bread and rye bread.",
    "The bakery of Ana opened a second oven for bread.",
    "Ana bakes rye bread with her sourdough starter.",
]
BEN = ["Ben plays chess at the club on Tuesdays.", "Ben won a chess tournament at the club."]


def _is_topic(note: Note) -> bool:
    return int(note.metadata.get("zm_level", 0)) >= 1


class ConsolidationConformance(MemoryHooks):
    """Consolidation into topic notes through ``Memory``, the same on every backend."""

    @pytest.fixture
    def consol_mem(self, store: Any, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Any]:
        """A Memory over the backend (hashing embedder, consolidation thresholds for these texts)."""
        from zettelmem.config import ConsolidationConfig, HashingEmbeddingConfig

        mem = self.open_memory(tmp_path / "consol-home", request, embedding=HashingEmbeddingConfig(),
                               consolidation=ConsolidationConfig(join_threshold=0.2, max_members=3))
        yield mem
        mem.close()

    @staticmethod
    def _add(mem: Any, scope: Scope, ana: list[str] = ANA) -> dict[str, str]:
        items: list[dict[str, Any]] = [
            {"content": t, "provenance": Provenance(speaker="Ana", session=str(i))} for i, t in enumerate(ana)]
        items += [{"content": t, "provenance": Provenance(speaker="Ben", session=str(i))} for i, t in enumerate(BEN)]
        return {r.note.content: r.note.id for r in mem.add_many(items, scope=scope)}

    @staticmethod
    def _summarized(mem: Any, scope: Scope, topic_id: str) -> set[str]:
        return {lk.target for lk in mem.links(topic_id, scope)
                if lk.source == topic_id and lk.relation == Relation.SUMMARIZES}

    def test_consolidation_gathers_versions_reverts_and_searches(self, consol_mem: Any, scope: Scope) -> None:
        mem = consol_mem
        ids = self._add(mem, scope)
        before = {n.id: n for n in mem.list(scope)}
        report = mem.consolidate(scope=scope)
        topics = [n for n in mem.list(scope) if _is_topic(n)]
        assert report.created and {t.id for t in topics} == set(report.created)
        ana, ben = {ids[t] for t in ANA}, {ids[t] for t in BEN}
        for t in topics:
            members = t.metadata["members"]
            assert 2 <= len(members) <= 3 and (set(members) <= ana or set(members) <= ben)
            assert self._summarized(mem, scope, t.id) == set(members)
            assert all(before[i].content in t.content for i in members)  # extractive
        assert {n.id: n for n in mem.list(scope) if not _is_topic(n)} == before  # members never rewritten
        again = mem.consolidate(scope=scope)
        assert again.created == [] and again.grouped == 0  # idempotent
        change = report.changes[0]  # a join: versioned, revertible, links and members move together
        assert change.kind == "consolidate" and mem.get(change.note_id, scope).version == change.version_after
        joined = change.after["metadata"]["members"][-1]
        undo = mem.revert(change.id, scope)
        reverted = mem.get(change.note_id, scope)
        assert undo.reverts == change.id and joined not in reverted.metadata["members"]
        assert self._summarized(mem, scope, reverted.id) == set(reverted.metadata["members"])
        hits = mem.search("sourdough bread bakery", scope=scope, k=10)
        topic_hits = [h for h in hits if _is_topic(h.note)]
        assert topic_hits and all(h.members == h.note.metadata["members"] for h in topic_hits)
        assert mem.check(scope=scope).ok

    def test_consolidation_hard_forget_of_a_member_rebuilds_its_topic_note(self, consol_mem: Any, scope: Scope,
                                                                           tmp_path: Path) -> None:
        mem, home = consol_mem, tmp_path / "consol-home"
        marker = f"Quorvexalind{uuid.uuid4().hex[:10]}"
        ana = [ANA[0].replace("every morning", f"for {marker} every morning"), *ANA[1:]]
        ids = self._add(mem, scope, ana)
        secret = ids[ana[0]]
        mem.consolidate(scope=scope)
        topic = next(t for t in mem.list(scope) if _is_topic(t) and secret in t.metadata["members"])
        assert len(topic.metadata["members"]) == 3 and self.traces(mem, marker) >= 3  # note, topic, its Change
        before = {n.id: n for n in mem.list(scope) if not _is_topic(n)}
        report = mem.forget(secret, scope, hard=True)
        assert report.topics_rebuilt == [topic.id]
        rebuilt = mem.get(topic.id, scope)
        rest = [i for i in topic.metadata["members"] if i != secret]
        assert rebuilt.metadata["members"] == rest and self._summarized(mem, scope, topic.id) == set(rest)
        assert all(before[i].content in rebuilt.content for i in rest)  # extractive text of the rest
        assert rebuilt.version == topic.version + 1 and mem.history(topic.id, scope)[-1].kind == "consolidate"
        assert self.traces(mem, marker) == 0  # not in the topic note, its keywords, entities or history
        assert files_with(home, marker) == []
        assert all(secret not in c.model_dump_json() for c in mem.history(topic.id, scope))
        hits = mem.search("sourdough bread bakery", scope=scope, k=10)
        assert any(h.note.id == topic.id for h in hits) and all(secret not in h.members for h in hits)
        assert {n.id: n for n in mem.list(scope) if not _is_topic(n)} == {
            i: n for i, n in before.items() if i != secret}  # the other notes are untouched
        assert mem.check(scope=scope).ok

    def test_consolidation_topic_note_left_with_one_member_is_dissolved(self, consol_mem: Any,
                                                                        scope: Scope) -> None:
        mem = consol_mem
        ids = self._add(mem, scope)
        mem.consolidate(scope=scope)
        ben = [ids[t] for t in BEN]
        topic = next(t for t in mem.list(scope) if _is_topic(t) and ben[0] in t.metadata["members"])
        report = mem.forget(ben[0], scope, hard=True)
        assert report.topics_dissolved == [topic.id]
        with pytest.raises(NoteNotFound):
            mem.get(topic.id, scope)
        assert mem.get(ben[1], scope).content == BEN[1]
        assert mem.check(scope=scope).ok

    def test_consolidation_after_each_batch_when_enabled(self, store: Any, tmp_path: Path, scope: Scope,
                                                         request: pytest.FixtureRequest) -> None:
        from zettelmem.config import ConsolidationConfig, HashingEmbeddingConfig

        mem = self.open_memory(tmp_path / "consol-batches", request, embedding=HashingEmbeddingConfig(),
                               consolidation=ConsolidationConfig(enabled=True, join_threshold=0.2))
        try:
            for i, text in enumerate(ANA):
                mem.add(text, scope=scope, provenance=Provenance(speaker="Ana", session=str(i)))
            topics = [n for n in mem.list(scope) if _is_topic(n)]
            assert len(topics) == 1 and len(topics[0].metadata["members"]) == len(ANA)
            assert self._summarized(mem, scope, topics[0].id) == set(topics[0].metadata["members"])
        finally:
            mem.close()
