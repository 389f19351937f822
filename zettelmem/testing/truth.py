"""The Memory-level part of the conformance suite: truth maintenance and forgetting.

:class:`~zettelmem.testing.conformance.GraphStoreConformance` inherits these
tests, so every backend that runs the store suite also runs them through the
``Memory`` API (offline agents, the real ONNX embedder): supersession, repeats
and merges, soft and hard ``forget``, scope erasure and cold-note demotion.

A backend's test class provides, besides its ``store`` fixture:

* :meth:`TruthConformance.open_memory` -- a ``Memory`` over that backend (the
  default opens an embedded NetworkX store in ``home``);
* :meth:`TruthConformance.traces` -- how many records of the backend hold a
  string anywhere (the default reads every note and Change of every scope
  through the store contract; a server backend may query all its records).

The strings searched for carry the test's random tag, so a shared server's
other tenants cannot hold them.

Each test works in the suite's random scopes (``new_scope``), which the store
suite's fixture deletes and purges afterwards.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from zettelmem.errors import InvalidInput, NoteNotFound
from zettelmem.filters import Filter
from zettelmem.models import Provenance, Relation, Scope

__all__ = ["TruthConformance", "files_with"]

T1 = datetime(2025, 1, 6, 9, tzinfo=UTC)


def files_with(home: Path, word: str) -> list[str]:
    """The files under ``home`` holding ``word`` (case-insensitively, as bytes)."""
    return [str(p) for p in home.rglob("*") if p.is_file() and word.lower().encode() in p.read_bytes().lower()]


def _add(mem: Any, scope: Scope, text: str, day: int, speaker: str | None = None) -> Any:
    return mem.add(text, scope, event_time=T1 + timedelta(days=day), provenance=Provenance(speaker=speaker))


class TruthConformance:
    """Truth maintenance and forgetting through ``Memory``, the same on every backend."""

    def open_memory(self, home: Path, request: pytest.FixtureRequest, **fields: Any) -> Any:
        """A ``Memory`` over this backend with offline agents (``fields``: more Settings fields)."""
        from zettelmem import Memory, Settings

        return Memory(Settings(home=home, use_llm=False, **fields))

    def traces(self, mem: Any, text: str) -> int:
        """How many records of the store hold ``text`` (default: every note and Change of every scope)."""
        graph, low, n = mem.aio.graph, text.lower(), 0
        for scope in graph.list_scopes():
            n += sum(low in note.model_dump_json().lower() for note in graph.list_notes(scope))
            n += sum(low in c.model_dump_json().lower() for c in graph.get_changes(scope))
        return n

    @pytest.fixture
    def memory_home(self, tmp_path: Path) -> Path:
        return tmp_path / "memory-home"

    @pytest.fixture
    def open_mem(self, store: Any, memory_home: Path, request: pytest.FixtureRequest) -> Iterator[Callable[..., Any]]:
        """Opens Memories over the backend (all closed afterwards); ``store`` set up first (migrations)."""
        opened: list[Any] = []

        def make(home: Path | None = None, **fields: Any) -> Any:
            opened.append(self.open_memory(home or memory_home, request, **fields))
            return opened[-1]

        yield make
        for mem in reversed(opened):
            mem.close()

    @pytest.fixture
    def mem(self, open_mem: Callable[..., Any]) -> Any:
        return open_mem()

    # -- supersession -------------------------------------------------------------------
    def test_truth_update_supersedes_and_stays_readable(self, mem: Any, scope: Scope) -> None:
        old = _add(mem, scope, "Ana lives in Lisbon.", 0).note
        _add(mem, scope, "Marco works at Acme.", 1)
        before_update = datetime.now(UTC)
        new = _add(mem, scope, "Ana moved to Porto last month.", 9)
        assert [(lk.relation, lk.target) for lk in new.links if lk.relation == Relation.SUPERSEDES] == [
            (Relation.SUPERSEDES, old.id)]
        closed = mem.get(old.id, scope)
        assert closed.valid_to == T1 + timedelta(days=9) and closed.version == old.version + 1  # never deleted
        assert closed.content == old.content
        change = mem.history(old.id, scope)[-1]
        assert change.kind == "supersede" and change.trigger == new.note.id and change.agent.kind == "offline"
        assert mem.get(old.id, scope, as_of=before_update).valid_to is None  # as it was before
        hits = mem.search("Where does Ana live?", scope, k=5)
        order = [h.note.id for h in hits]
        assert order.index(new.note.id) < order.index(old.id)  # current first, the stale one marked
        assert any(w.kind == "superseded" for w in hits[order.index(old.id)].why)
        assert not any(w.kind == "superseded" for w in hits[order.index(new.note.id)].why)
        history = mem.search("Where does Ana live?", scope, k=5, where=Filter(current=False))
        assert [h.note.id for h in history] == [old.id]
        current = [h.note.id for h in mem.search("Ana Lisbon", scope, where=Filter(current=True))]
        assert new.note.id in current and old.id not in current
        assert [n.id for n in mem.list(scope, where=Filter(current=False))] == [old.id]
        assert old.id not in [n.id for n in mem.list(scope, where=Filter(current=True))]
        assert mem.stats(scope)["truth"]["supersede"] == 1
        # revertible like any evolution: reopened, and the supersedes link is gone
        undo = mem.revert(change.id, scope)
        assert undo.kind == "revert" and undo.reverts == change.id
        assert mem.get(old.id, scope).valid_to is None
        assert not [lk for lk in mem.links(old.id, scope) if lk.relation == Relation.SUPERSEDES]
        assert old.id in [n.id for n in mem.list(scope, where=Filter(current=True))]

    def test_truth_look_alikes_are_left_alone(self, mem: Any, scope: Scope) -> None:
        a = _add(mem, scope, "Ana lives in Lisbon.", 0).note
        for i, text in enumerate(["Marco moved to Porto last month.", "Ana's sister moved to Porto.",
                                  "Ana visited Porto last weekend.", "Ana was born in Porto."], 1):
            r = _add(mem, scope, text, i)
            assert r.note.content == text and not [lk for lk in r.links if lk.relation == Relation.SUPERSEDES]
        assert mem.get(a.id, scope).valid_to is None
        assert mem.stats(scope)["notes"] == 5 and mem.stats(scope)["truth"]["supersede"] == 0

    def test_truth_can_be_switched_off(self, open_mem: Callable[..., Any], scope: Scope) -> None:
        from zettelmem.config import AgentsConfig

        mem = open_mem(agents=AgentsConfig(truth=False))
        a = mem.add("Ana lives in Lisbon.", scope).note
        mem.add("Ana moved to Porto.", scope)
        mem.add("Ana lives in Lisbon.", scope)
        assert mem.get(a.id, scope).valid_to is None and mem.stats(scope)["notes"] == 3

    # -- duplicates ---------------------------------------------------------------------
    def test_truth_exact_repeat_is_a_mention_not_a_note(self, mem: Any, scope: Scope) -> None:
        first = _add(mem, scope, "I work at Acme.", 0, "Ana").note
        again = mem.add("  i work at ACME!", scope, provenance=Provenance(speaker="Ana", session="s2"))
        assert again.note.id == first.id and again.note.mentions == 2
        assert again.note.sources[-1].session == "s2" and again.note.last_seen is not None
        assert mem.stats(scope)["notes"] == 1 and mem.stats(scope)["truth"]["mention"] == 1
        assert [c.kind for c in mem.history(first.id, scope)] == ["mention"]
        assert mem.get(first.id, scope).mentions == 2  # stored, not only returned
        # another speaker saying the same words is another fact
        other = mem.add("I work at Acme.", scope, provenance=Provenance(speaker="Marco"))
        assert other.note.id != first.id and mem.stats(scope)["notes"] == 2

    def test_truth_near_duplicate_merge_keeps_provenances_and_reverts(self, mem: Any, scope: Scope) -> None:
        out = mem.add_many(["Ana works at Acme.", "Marco lives in Oslo.", "Ana works at Acme."], scope)
        assert out[2].note.id == out[0].note.id and out[2].note.mentions == 2  # a repeat inside one batch
        merged = mem.add("Ana is employed at Acme.", scope, provenance=Provenance(source="msg-9"))
        assert merged.note.id == out[0].note.id and merged.note.mentions == 3
        change = mem.history(out[0].note.id, scope)[-1]
        assert change.kind == "merge" and "employed" in change.rationale
        stored = mem.get(out[0].note.id, scope)
        assert len(stored.sources) == 2 and stored.sources[-1].source == "msg-9"  # both provenances kept
        assert mem.stats(scope)["notes"] == 2 and mem.stats(scope)["truth"]["merge"] == 1
        undo = mem.revert(change.id, scope)  # a merge is versioned and revertible
        assert undo.kind == "revert" and mem.get(out[0].note.id, scope).mentions == 2
        assert len(mem.get(out[0].note.id, scope).sources) == 1

    # -- forgetting -----------------------------------------------------------------------
    def test_forget_soft_hides_and_keeps(self, mem: Any, scope: Scope) -> None:
        a = _add(mem, scope, "Ana's door code is 4471.", 0).note
        _add(mem, scope, "Marco likes jazz.", 1)
        marked = datetime.now(UTC)
        report = mem.forget(a.id, scope)
        assert report.forgotten == [a.id] and not report.hard
        assert a.id not in [h.note.id for h in mem.search("door code", scope)]
        assert a.id not in [h.note.id for h in mem.search("door code", scope, where=Filter(current=False))]
        kept = mem.get(a.id, scope)
        assert kept.forgotten and kept.valid_to is not None and kept.content == a.content
        assert not mem.get(a.id, scope, as_of=marked).forgotten
        forget_change = mem.history(a.id, scope)[-1]
        assert forget_change.kind == "forget"
        mem.revert(forget_change.id, scope)
        assert a.id in [h.note.id for h in mem.search("door code", scope)]

    def test_forget_refuses_unknown_ids_and_reports_empty_filters(self, mem: Any, scope: Scope) -> None:
        a = _add(mem, scope, "Ana likes green tea.", 0).note
        b = _add(mem, scope, "Marco plays chess.", 1).note
        with pytest.raises(NoteNotFound):
            mem.forget([a.id, "no-such-id"], scope, hard=True)
        with pytest.raises(NoteNotFound):
            mem.forget(["no-such-id"], scope)
        assert [n.id for n in mem.list(scope)] == [a.id, b.id]  # nothing removed
        assert mem.get(a.id, scope).content == a.content and not mem.get(a.id, scope).forgotten
        assert mem.history(a.id, scope) == []
        report = mem.forget(scope=scope, where=Filter(tags_any=("nothing-has-this",)), hard=True)
        assert report.forgotten == [] and "nothing" in report.message
        assert mem.stats(scope)["notes"] == 2
        with pytest.raises(InvalidInput):
            mem.forget(scope=scope)
        by_filter = mem.forget(scope=scope, where=Filter(current=True))
        assert sorted(by_filter.forgotten) == sorted([a.id, b.id])

    def test_forget_hard_leaves_the_marker_nowhere(self, open_mem: Callable[..., Any], memory_home: Path,
                                                   scope: Scope, tmp_path: Path, tag: str) -> None:
        from zettelmem.export import to_html, to_node_link

        marker = f"Quorvexalind{tag}"
        mem = open_mem()
        mem.add("Ana keeps her locker key at the gym.", scope)
        secret = mem.add(f"Ana's locker key is with {marker} Vandermeer at the gym.", scope).note
        again = mem.add(f"Ana's locker key is with {marker} Vandermeer at the gym.", scope,
                        provenance=Provenance(session="s2"))  # a repeat: a mention with its provenance
        assert again.note.id == secret.id
        neighbour = mem.add("Ana goes to the gym with Vandermeer on Mondays.", scope)
        assert self.traces(mem, marker) >= 1  # it was there
        report = mem.forget(secret.id, scope, hard=True)
        assert report.forgotten == [secret.id] and report.hard
        assert self.traces(mem, marker) == 0
        assert files_with(memory_home, marker) == []  # while open: graph, WAL, Chroma log and metadata
        with pytest.raises(NoteNotFound):
            mem.get(secret.id, scope)
        assert secret.id not in [h.note.id for h in mem.search("locker key", scope)]
        assert all(secret.id not in (lk.source, lk.target) for lk in mem.links(neighbour.note.id, scope))
        to_node_link(mem, tmp_path / "export.json", scope=scope)
        to_html(mem, tmp_path / "export.html", scope=scope)
        assert files_with(tmp_path, marker) == []  # nor in exports
        mem.add("Ana got a new locker.", scope)  # the stores still work after compaction
        assert mem.check().ok and mem.search("locker", scope)[0].note.content
        mem.close()
        assert files_with(memory_home, marker) == []
        if (memory_home / "graph.sqlite").exists():
            db = sqlite3.connect(memory_home / "graph.sqlite")
            assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            db.close()

    def test_forget_hard_scrubs_neighbours_changes_that_quote_it(self, mem: Any, scope: Scope) -> None:
        old = _add(mem, scope, "Ana lives in Lisbon near the Zamboravia bakery.", 0).note
        new = _add(mem, scope, "Ana moved to Porto.", 5).note
        assert mem.history(old.id, scope)[-1].trigger == new.id
        report = mem.forget(new.id, scope, hard=True)
        assert report.scrubbed_changes == 1
        change = mem.history(old.id, scope)[-1]
        assert change.trigger is None and new.id not in change.model_dump_json() and "Porto" not in change.rationale
        assert self.traces(mem, new.id) == 0

    def test_forget_a_whole_scope_never_touches_another(self, mem: Any, memory_home: Path,
                                                       new_scope: Callable[..., Scope], tag: str) -> None:
        a, b = new_scope("ana"), new_scope("ana-b")  # look-alike scopes
        mine, theirs = f"Velmorath{tag}", f"Krevolandia{tag}"
        mem.add_many([f"Ana's diary mentions {mine} twice.", "Ana likes tea."], a)
        kept = mem.add_many([f"Bob's diary mentions {theirs} too.", "Bob likes coffee."], b)
        report = mem.forget(scope=a, where=Filter(), hard=True)
        assert len(report.forgotten) == 2 and mem.list(a) == []
        assert mem.stats(a)["notes"] == 0 and mem.search("diary", a) == []
        assert [n.id for n in mem.list(b)] == [r.note.id for r in kept]
        assert theirs in mem.search("diary", b)[0].note.content and mem.check().ok
        assert self.traces(mem, mine) == 0 and self.traces(mem, theirs) >= 1
        assert files_with(memory_home, mine) == []

    # -- cold-note demotion (MemoryOS heat) -------------------------------------------------
    def test_heat_consolidate_demotes_cold_notes_revertibly(self, open_mem: Callable[..., Any], scope: Scope) -> None:
        from zettelmem.config import AgentsConfig, ConsolidationConfig, SearchConfig

        off = open_mem()  # off by default: a pass demotes nothing
        off.add("Ana keeps bees on her roof.", scope)
        assert off.consolidate(scope=scope).demoted == []
        off.close()
        mem = open_mem(consolidation=ConsolidationConfig(demote_cold=True, cold_days=0, cold_reads=1),
                       search=SearchConfig(cold_weight=0.5), agents=AgentsConfig(truth=False))
        read = mem.add("Ana drinks green tea every winter morning.", scope).note
        never = mem.add("Green tea was Ana's first purchase in Kyoto.", scope).note
        bees = mem.list(scope)[0]
        assert never.id in [h.note.id for h in mem.search("green tea", scope, k=5)]  # one read of each hit
        mem.get(read.id, scope)  # a second read: above cold_reads
        report = mem.consolidate(scope=scope)
        assert never.id in report.demoted and bees.id in report.demoted and read.id not in report.demoted
        cold = mem.get(never.id, scope)
        assert cold.cold is not None and cold.version == never.version + 1 and cold.content == never.content
        change = mem.history(never.id, scope)[-1]
        assert change.kind == "demote" and change.agent.agent == "heat" and "1 times" in change.rationale
        assert mem.get(read.id, scope).cold is None
        hits = {h.note.id: h for h in mem.search("green tea", scope, k=5)}  # still found, ranked lower
        mem.settings.search.cold_weight = 1.0  # the same search, ignoring demotion
        unranked = {h.note.id: h for h in mem.search("green tea", scope, k=5)}
        mem.settings.search.cold_weight = 0.5
        assert hits[never.id].score == pytest.approx(unranked[never.id].score * 0.5)
        assert hits[read.id].score == pytest.approx(unranked[read.id].score)
        assert [w.kind for w in hits[never.id].why][-1] == "cold" and "cold" not in [w.kind for w in hits[read.id].why]
        assert mem.consolidate(scope=scope).demoted == []  # already cold: no second Change
        undo = mem.revert(change.id, scope)
        assert undo.kind == "revert" and mem.get(never.id, scope).cold is None
        assert mem.check().ok
