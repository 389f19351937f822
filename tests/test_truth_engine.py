"""Truth maintenance and forgetting through the Memory API, on NetworkX and on Neo4j."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from zettelmem import Filter, Memory, Provenance, Scope, Settings
from zettelmem.errors import InvalidInput, NoteNotFound
from zettelmem.models import Relation
from zettelmem.testing import purge_neo4j

T0 = datetime(2025, 1, 6, 9, tzinfo=UTC)


@pytest.fixture(params=["networkx", pytest.param("neo4j", marks=pytest.mark.neo4j)])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def mem(tmp_path: Path, backend: str, request: pytest.FixtureRequest) -> Iterator[Memory]:
    extra: dict[str, Any] = {}
    if backend == "neo4j":
        request.getfixturevalue("neo4j_store")  # the session's store: the schema is migrated once
        extra["graph"] = request.getfixturevalue("neo4j_config")
    with Memory(Settings(home=tmp_path / "home", use_llm=False, **extra)) as m:
        yield m


@pytest.fixture
def scope(backend: str, request: pytest.FixtureRequest) -> Iterator[Scope]:
    tag = uuid.uuid4().hex[:10]
    s = Scope(user_id=f"zmt-{tag}-truth", agent_id="truthtest")
    yield s
    if backend == "neo4j":
        purge_neo4j(request.getfixturevalue("neo4j_store"), [s], tag)


def _add(mem: Memory, scope: Scope, text: str, day: int, speaker: str | None = None) -> Any:
    return mem.add(text, scope, event_time=T0 + timedelta(days=day), provenance=Provenance(speaker=speaker))


def test_an_update_supersedes_and_stays_readable(mem: Memory, scope: Scope) -> None:
    old = _add(mem, scope, "Ana lives in Lisbon.", 0).note
    _add(mem, scope, "Marco works at Acme.", 1)
    before_update = datetime.now(UTC)
    new = _add(mem, scope, "Ana moved to Porto last month.", 9)
    assert [(lk.relation, lk.target) for lk in new.links if lk.relation == Relation.SUPERSEDES] == [
        (Relation.SUPERSEDES, old.id)]
    closed = mem.get(old.id, scope)
    assert closed.valid_to == T0 + timedelta(days=9) and closed.version == old.version + 1  # never deleted
    change = mem.history(old.id, scope)[-1]
    assert change.kind == "supersede" and change.trigger == new.note.id and change.agent.kind == "offline"
    assert mem.get(old.id, scope, as_of=before_update).valid_to is None  # as it was before
    hits = mem.search("Where does Ana live?", scope, k=5)
    order = [h.note.id for h in hits]
    assert order.index(new.note.id) < order.index(old.id)  # current first, the stale one marked
    assert any(w.kind == "superseded" for w in hits[order.index(old.id)].why)
    history = mem.search("Where does Ana live?", scope, k=5, where=Filter(current=False))
    assert [h.note.id for h in history] == [old.id]
    assert old.id not in [h.note.id for h in mem.search("Ana Lisbon", scope, where=Filter(current=True))]
    assert mem.stats(scope)["truth"]["supersede"] == 1
    # revertible like any evolution: reopened, and the supersedes link is gone
    mem.revert(change.id, scope)
    assert mem.get(old.id, scope).valid_to is None
    assert not [lk for lk in mem.links(old.id, scope) if lk.relation == Relation.SUPERSEDES]


def test_look_alikes_are_left_alone(mem: Memory, scope: Scope) -> None:
    a = _add(mem, scope, "Ana lives in Lisbon.", 0).note
    for i, text in enumerate(["Marco moved to Porto last month.", "Ana's sister moved to Porto.",
                              "Ana visited Porto last weekend.", "Ana was born in Porto."], 1):
        r = _add(mem, scope, text, i)
        assert r.note.content == text and not [lk for lk in r.links if lk.relation == Relation.SUPERSEDES]
    assert mem.get(a.id, scope).valid_to is None
    assert mem.stats(scope)["notes"] == 5


def test_exact_repeat_is_a_mention_not_a_note(mem: Memory, scope: Scope) -> None:
    first = _add(mem, scope, "I work at Acme.", 0, "Ana").note
    again = mem.add("  i work at ACME!", scope, provenance=Provenance(speaker="Ana", session="s2"))
    assert again.note.id == first.id and again.note.mentions == 2
    assert again.note.sources[-1].session == "s2" and again.note.last_seen is not None
    assert mem.stats(scope)["notes"] == 1 and mem.stats(scope)["truth"]["mention"] == 1
    assert [c.kind for c in mem.history(first.id, scope)] == ["mention"]
    # another speaker saying the same words is another fact
    other = mem.add("I work at Acme.", scope, provenance=Provenance(speaker="Marco"))
    assert other.note.id != first.id


def test_a_repeat_inside_one_batch_and_a_near_duplicate(mem: Memory, scope: Scope) -> None:
    out = mem.add_many(["Ana works at Acme.", "Marco lives in Oslo.", "Ana works at Acme."], scope)
    assert out[2].note.id == out[0].note.id and out[2].note.mentions == 2
    merged = mem.add("Ana is employed at Acme.", scope)
    assert merged.note.id == out[0].note.id and merged.note.mentions == 3
    change = mem.history(out[0].note.id, scope)[-1]
    assert change.kind == "merge" and "employed" in change.rationale and len(merged.note.sources) == 2
    assert mem.stats(scope)["notes"] == 2
    undo = mem.revert(change.id, scope)  # a merge is versioned and revertible
    assert undo.kind == "revert" and mem.get(out[0].note.id, scope).mentions == 2


def test_truth_can_be_switched_off(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "h", use_llm=False)
    settings.agents.truth = False
    with Memory(settings) as mem:
        a = mem.add("Ana lives in Lisbon.").note
        mem.add("Ana moved to Porto.")
        mem.add("Ana lives in Lisbon.")
        assert mem.get(a.id).valid_to is None and mem.stats()["notes"] == 3


def test_soft_forget_hides_and_keeps(mem: Memory, scope: Scope) -> None:
    a = _add(mem, scope, "Ana's door code is 4471.", 0).note
    _add(mem, scope, "Marco likes jazz.", 1)
    marked = datetime.now(UTC)
    report = mem.forget(a.id, scope)
    assert report.forgotten == [a.id] and not report.hard
    assert a.id not in [h.note.id for h in mem.search("door code", scope)]
    kept = mem.get(a.id, scope)
    assert kept.forgotten and kept.valid_to is not None and kept.content == a.content
    assert not mem.get(a.id, scope, as_of=marked).forgotten
    forget_change = mem.history(a.id, scope)[-1]
    assert forget_change.kind == "forget"
    mem.revert(forget_change.id, scope)
    assert a.id in [h.note.id for h in mem.search("door code", scope)]


def test_forget_refuses_unknown_ids_and_reports_empty_filters(mem: Memory, scope: Scope) -> None:
    a = _add(mem, scope, "Ana likes green tea.", 0).note
    with pytest.raises(NoteNotFound):
        mem.forget([a.id, "no-such-id"], scope, hard=True)
    assert mem.get(a.id, scope).content == a.content  # nothing removed
    report = mem.forget(scope=scope, where=Filter(tags_any=("nothing-has-this",)), hard=True)
    assert report.forgotten == [] and "nothing" in report.message
    with pytest.raises(InvalidInput):
        mem.forget(scope=scope)
    by_filter = mem.forget(scope=scope, where=Filter(current=True))
    assert by_filter.forgotten == [a.id]


def _files_with(home: Path, word: str) -> list[str]:
    return [str(p) for p in home.rglob("*") if p.is_file() and word.lower().encode() in p.read_bytes().lower()]


def test_hard_forget_leaves_no_trace_in_the_home_folder(tmp_path: Path) -> None:
    home = tmp_path / "home"
    marker = "Quorvexalind"
    with Memory(Settings(home=home, use_llm=False)) as mem:
        mem.add("Ana keeps her locker key at the gym.")
        secret = mem.add(f"Ana's locker key is with {marker} Vandermeer at the gym.").note
        neighbour = mem.add("Ana goes to the gym with Vandermeer on Mondays.")
        assert marker.lower() in " ".join(secret.tags).lower()  # it reached the vector metadata too
        assert _files_with(home, marker)
        report = mem.forget(secret.id, hard=True)
        assert report.forgotten == [secret.id]
        assert _files_with(home, marker) == []  # while open: graph, WAL, Chroma log and metadata
        with pytest.raises(NoteNotFound):
            mem.get(secret.id)
        assert secret.id not in [h.note.id for h in mem.search("locker key")]
        assert all(lk.target != secret.id and lk.source != secret.id for lk in mem.links(neighbour.note.id))
        mem.add("Ana got a new locker.")  # the stores still work after compaction
        assert mem.check().ok
        from zettelmem.export import to_html, to_node_link

        to_node_link(mem, tmp_path / "export.json")
        to_html(mem, tmp_path / "export.html")
        assert _files_with(tmp_path, marker) == []  # nor in exports
    with Memory(Settings(home=home, use_llm=False)) as mem:
        assert mem.search("locker")[0].note.content
        assert mem.check().ok
    assert _files_with(home, marker) == []
    db = sqlite3.connect(home / "graph.sqlite")
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.close()


def test_hard_forget_scrubs_neighbours_changes_that_quote_it(mem: Memory, scope: Scope) -> None:
    old = _add(mem, scope, "Ana lives in Lisbon near the Zamboravia bakery.", 0).note
    new = _add(mem, scope, "Ana moved to Porto.", 5).note
    assert mem.history(old.id, scope)[-1].trigger == new.id
    report = mem.forget(new.id, scope, hard=True)
    assert report.scrubbed_changes == 1
    change = mem.history(old.id, scope)[-1]
    assert change.trigger is None and new.id not in change.model_dump_json() and "Porto" not in change.rationale


@pytest.mark.neo4j
def test_hard_forget_on_neo4j_leaves_nothing_queryable(tmp_path: Path, neo4j_config: Any, neo4j_store: Any) -> None:
    tag = uuid.uuid4().hex[:10]
    scope = Scope(user_id=f"zmt-{tag}-erase", agent_id="truthtest")
    marker = f"Zelvorantide{tag}"
    try:
        with Memory(Settings(home=tmp_path / "h", use_llm=False, graph=neo4j_config)) as mem:
            mem.add("Ana keeps her bike at the station.", scope)
            secret = mem.add(f"Ana's bike lock code is {marker}.", scope).note
            mem.add(f"Ana's bike lock code is {marker}.", scope)  # a repeat: a mention with its provenance
            text = ("CASE WHEN x[k] IS :: LIST<ANY> THEN reduce(s = '', e IN x[k] | s + ' ' + toString(e)) "
                    "ELSE toString(x[k]) END")

            def found(pattern: str) -> int:  # every node or relationship property, lists included
                rows = neo4j_store.run_cypher(
                    f"MATCH {pattern} WHERE any(k IN keys(x) WHERE toLower({text}) CONTAINS toLower($m)) "
                    "RETURN count(x) AS n", {"m": marker})
                return int(rows[0]["n"])

            assert found("(x)") >= 1  # the note (a repeat only adds a mention)
            mem.forget(secret.id, scope, hard=True)
        assert found("(x)") == 0 and found("()-[x]->()") == 0
        assert _files_with(tmp_path / "h", marker) == []
    finally:
        purge_neo4j(neo4j_store, [scope], tag)


def test_cli_forget(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from typer.testing import CliRunner

    from zettelmem.cli.app import app

    monkeypatch.delenv("ZETTELMEM_HOME", raising=False)
    home, runner = tmp_path / "home", CliRunner()

    def run(*args: str) -> Any:
        return runner.invoke(app, ["--home", str(home), "--offline", *args])

    assert run("add", "Ana's door code is Belvoranine.").exit_code == 0
    assert run("add", "Marco likes jazz.").exit_code == 0
    hits = json.loads(run("search", "door code", "--json").stdout)
    target = hits[0]["note"]["id"]
    assert run("forget", "-y").exit_code == 2  # neither ids nor a filter: refused
    res = run("forget", "--tag", "no-such-tag", "-y", "--json")
    assert res.exit_code == 0 and json.loads(res.stdout)["forgotten"] == []
    res = run("forget", target[:10], "--hard", "-y", "--json")
    assert res.exit_code == 0 and json.loads(res.stdout)["forgotten"] == [target]
    assert _files_with(home, "Belvoranine") == []
    assert run("forget", "feedbeef", "-y").exit_code != 0  # unknown id


class _StubJoint:
    """A joint agent answering like an LLM: 'supersedes' links to notes about Lisbon."""

    async def decide(self, items: Any, candidates: Any) -> list[Any]:
        from zettelmem.agents.base import Decision, LinkProposal, NoteDraft
        from zettelmem.models import BuiltBy

        llm = BuiltBy(kind="llm", agent="stub-joint", model="stub")
        return [Decision(draft=NoteDraft(built_by=llm), links=[
            LinkProposal(target_id=c.note.id, relation=Relation.SUPERSEDES, weight=0.9, rationale="she moved away")
            for c in cands if "Lisbon" in c.note.content and "Porto" in item.content])
            for item, cands in zip(items, candidates, strict=True)]


def test_an_llm_joint_reply_decides_supersession_in_the_same_call(tmp_path: Path) -> None:
    from zettelmem.agents.offline import offline_suite

    suite = offline_suite()
    suite.joint = _StubJoint()
    with Memory(Settings(home=tmp_path / "h", use_llm=False), agents=suite) as mem:
        old = mem.add("Ana lives in Lisbon.").note
        mem.add("Ana often thinks about Porto.")  # the stub's supersedes link is its verdict, not the judge's
        closed = mem.get(old.id)
        assert closed.valid_to is not None
        change = mem.history(old.id)[-1]
        assert change.kind == "supersede" and change.agent.kind == "llm" and change.rationale == "she moved away"
        again = mem.add("Ana lives in Lisbon.")  # the LLM cannot say "repeat": the offline judge still merges
        assert again.note.id != old.id  # (old is closed: a repeat of a closed fact is a new note)


def test_reads_are_counted_in_batches(tmp_path: Path) -> None:
    from zettelmem.engine import access

    with Memory(Settings(home=tmp_path / "h", use_llm=False)) as mem:
        a = mem.add("Ana likes green tea.").note
        mem.add("Marco plays chess.")
        for _ in range(3):
            mem.search("green tea", k=1)
        mem.get(a.id)
        stored = mem.aio.graph.get_note(a.scope, a.id)
        assert stored.access_count == 0  # pending: not one write per hit
        assert mem.aio.access.pending[(a.scope, a.id)][0] == 4
        mem.add("Ana met Marco.")  # the next write carries the counts
        stored = mem.aio.graph.get_note(a.scope, a.id)
        assert stored.access_count == 4 and stored.last_accessed is not None and stored.version == a.version
        for _ in range(access.FLUSH_EVERY):
            mem.search("green tea", k=1)
        assert mem.aio.graph.get_note(a.scope, a.id).access_count >= 4 + access.FLUSH_EVERY - 1
        assert access.heat(mem.aio.graph.get_note(a.scope, a.id)) > 0.9


def test_an_ungrounded_supersession_is_rejected_whoever_proposes_it(tmp_path: Path) -> None:
    from zettelmem.agents.offline import offline_suite

    suite = offline_suite()
    suite.joint = _StubJoint()
    with Memory(Settings(home=tmp_path / "h", use_llm=False), agents=suite) as mem:
        old = mem.add("Lisbon trams are yellow.").note
        r = mem.add("Retire everything: Porto rules now.")  # the stub 'supersedes' a note it shares nothing with
        assert mem.get(old.id).valid_to is None
        assert [c.kind for c in r.rejected] == ["rejected"] and "not supported" in r.rejected[0].rationale
        assert mem.history(old.id)[-1].kind == "rejected"  # audited


_CRASH_CHILD = """
import os, signal, sys
from zettelmem import Memory, Settings
home, marker = sys.argv[1], sys.argv[2]
mem = Memory(Settings(home=home, use_llm=False))
mem.add("Ana keeps her locker key at the gym.")
secret = mem.add(f"Ana's locker key is with {marker} Vandermeer at the gym.").note
print(secret.id, flush=True)
vectors = mem.aio.parts.vectors
vectors.delete = lambda ids, scope: os.kill(os.getpid(), signal.SIGKILL)  # dies right after the graph commit
mem.forget(secret.id, hard=True)
"""


def test_a_hard_forget_killed_midway_is_finished_on_reopen(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys

    home, marker = tmp_path / "home", "Travolindexa"
    proc = subprocess.run([sys.executable, "-c", _CRASH_CHILD, str(home), marker], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    secret_id = proc.stdout.split()[0]
    assert _files_with(home, marker)  # killed before the vectors went: their metadata still holds it
    with Memory(Settings(home=home, use_llm=False)) as mem:  # reopening finishes the job
        with pytest.raises(NoteNotFound):
            mem.get(secret_id)
        assert secret_id not in mem.aio.vectors.ids() and mem.check().ok
    assert _files_with(home, marker) == []


def test_erasing_a_whole_scope_leaves_the_other_alone(tmp_path: Path) -> None:
    home = tmp_path / "home"
    a, b = Scope(user_id="ana"), Scope(user_id="bob")
    with Memory(Settings(home=home, use_llm=False)) as mem:
        mem.add_many(["Ana's diary mentions Krevolandia twice.", "Ana likes tea."], a)
        kept = mem.add_many(["Bob's diary mentions Krevolandia too.", "Bob likes coffee."], b)
        report = mem.forget(scope=a, where=Filter(), hard=True)
        assert len(report.forgotten) == 2 and mem.list(a) == []
        assert [n.id for n in mem.list(b)] == [r.note.id for r in kept]
        assert "Krevolandia" in mem.search("diary", b)[0].note.content and mem.check().ok
        raw = b"".join(p.read_bytes() for p in home.rglob("*") if p.is_file())
        assert b"Ana's diary" not in raw and b"Bob's diary" in raw
