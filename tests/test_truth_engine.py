"""Truth maintenance and forgetting: what only the engine's own seams can show.

The behaviour every backend shares (supersession, repeats, merges, soft and hard
forget, scope erasure) is in the conformance suite (``zettelmem.testing.truth``,
run by tests/test_conformance.py on NetworkX, NetworkX reopened and Neo4j); here
are the CLI, agent stubs, the access log and a hard forget killed midway.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from zettelmem import Memory, Settings
from zettelmem.errors import NoteNotFound
from zettelmem.models import Relation
from zettelmem.testing import files_with as _files_with


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
        again = mem.add("Ana lives in Lisbon.")  # an exact repeat, but of a closed fact
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


class _VerdictJoint:
    """A joint agent that judges itself (``Decision.verdicts``): every offered note and an invented id are
    'duplicates' of each new memory."""

    async def decide(self, items: Any, candidates: Any) -> list[Any]:
        from zettelmem.agents.base import Decision, NoteDraft, TruthVerdict
        from zettelmem.models import BuiltBy

        me = BuiltBy(kind="offline", agent="stub-judge")
        return [Decision(draft=NoteDraft(built_by=me), verdicts=[
            TruthVerdict(target_id=t, verdict="duplicates", rationale="stub says so", agent=me)
            for t in ["invented-id", *(c.note.id for c in cands)]]) for cands in candidates]


def test_an_agents_duplicate_verdicts_pass_the_engine_guards(tmp_path: Path) -> None:
    from zettelmem.agents.offline import offline_suite

    suite = offline_suite()
    suite.joint = _VerdictJoint()
    with Memory(Settings(home=tmp_path / "h", use_llm=False), agents=suite) as mem:
        tea = mem.add("Ana likes green tea.").note
        r = mem.add("Marco repairs old motorbikes in Turin.")  # 'a duplicate' of the tea note: refused
        assert r.note.id != tea.id and "invented-id" in r.dropped  # the id nobody offered: dropped, recorded
        assert [c.note_id for c in r.rejected] == [tea.id] and "cosine" in r.rejected[0].rationale
        assert mem.get(tea.id).mentions == 1 and mem.history(tea.id)[-1].kind == "rejected"
        same = mem.add("Green tea is what Ana likes.")  # close enough and grounded: merged
        assert same.note.id == tea.id and mem.history(tea.id)[-1].kind == "merge"
        assert mem.stats()["notes"] == 2
