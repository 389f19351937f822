"""An LLM's duplicate verdicts (joint and staged replies) through the engine's guarded merge path.

A scripted model (and, over real HTTP, the loopback replay server) says which offered
notes a new memory repeats; the engine merges only past its guards (offered id, open
note, cosine floor, grounding) and audits what it refuses. The real ONNX embedder
gives the similarities the guard reads.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import langchain_openai  # noqa: F401  (a test dependency: the real client path)
import pytest
from openai_replay_server import ReplayServer

from zettelmem import Memory, Provenance, Settings
from zettelmem.agents.llm import llm_suite
from zettelmem.agents.offline import offline_suite
from zettelmem.engine.truth import MERGE_FLOOR
from zettelmem.llm import LLMSettings, ScriptedLLM

JOB = "Ana works at Acme."
SAME = "Acme is where Ana has her job."  # the same fact; the offline judge reads no shared slot here
CAR = "Marco sold his old car last spring."  # nothing like JOB


def _block(text: str, name: str) -> Any:
    return json.loads(text.split(f'<data name="{name}">\n')[1].split("\n</data>")[0])


def _says(content: str) -> str | None:
    """What the scripted model calls a duplicate of a memory: the note about Ana's job, or an invented id."""
    if content in (SAME, CAR):
        return JOB
    if content.startswith("Lena"):
        return "invented"
    return None


def _duplicates(content: str, notes: list[dict[str, Any]]) -> list[dict[str, str]]:
    target = _says(content)
    if target is None:
        return []
    ids = [n["id"] for n in notes if n["content"] == target] or ["n9"]
    return [{"target": ids[0], "rationale": "the model: the same fact as that note"}]


def model(messages: Sequence[tuple[str, str]], schema: Any, task: str) -> dict[str, Any]:
    """A deterministic model for the joint, build, link and evolve tasks."""
    user = messages[1][1]
    attrs = {"keywords": ["memory"], "tags": ["talk"], "context": "", "memory_type": "semantic"}
    if task == "joint":
        notes = _block(user, "notes")
        return {m["id"]: {**attrs, "duplicates": _duplicates(m["content"], notes)} for m in _block(user, "memories")}
    if task == "build":
        return {m["id"]: attrs for m in _block(user, "memories")}
    if task == "link":
        return {"links": [], "duplicates": _duplicates(_block(user, "note")["content"], _block(user, "candidates"))}
    return {"updates": []}


@pytest.fixture(params=["joint", "staged"])
def mem(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    settings = Settings(home=tmp_path / "home", use_llm=False)
    llm = ScriptedLLM(default=model)
    suite = llm_suite(LLMSettings(mode=request.param), settings.agents, offline_suite(settings.agents), llm)
    with Memory(settings, agents=suite) as m:
        yield m


def test_an_llm_duplicate_verdict_merges_by_the_guarded_path(mem: Any) -> None:
    first = mem.add(JOB, provenance=Provenance(source="msg-1")).note
    merged = mem.add(SAME, provenance=Provenance(source="msg-2"))
    assert merged.note.id == first.id and merged.note.mentions == 2  # no second note
    change = mem.history(first.id)[-1]
    assert change.kind == "merge" and change.agent.kind == "llm" and "the same fact" in change.rationale
    kept = mem.get(first.id)  # both provenances: the note's own and the merged memory's
    assert SAME in change.rationale and kept.provenance.source == "msg-1" and kept.sources[-1].source == "msg-2"
    assert mem.stats()["notes"] == 1 and mem.stats()["truth"]["merge"] == 1
    undo = mem.revert(change.id)  # versioned and revertible like any merge
    assert undo.kind == "revert" and mem.get(first.id).mentions == 1


def test_an_llm_duplicate_verdict_on_different_content_is_refused(mem: Any) -> None:
    first = mem.add(JOB).note
    r = mem.add(CAR)  # the model calls it a duplicate of the job note
    assert r.note.id != first.id and r.note.content == CAR and mem.stats()["notes"] == 2  # stored on its own
    assert [c.kind for c in r.rejected] == ["rejected"] and r.rejected[0].note_id == first.id
    assert "cosine" in r.rejected[0].rationale and f"{MERGE_FLOOR:.2f}" in r.rejected[0].rationale
    kept = mem.get(first.id)
    assert kept.mentions == 1 and kept.version == first.version  # untouched
    assert mem.history(first.id)[-1].kind == "rejected"  # audited
    assert mem.stats()["truth"]["merge"] == 0


def test_an_llm_duplicate_of_an_id_not_offered_is_dropped_and_recorded(mem: Any) -> None:
    mem.add(JOB)
    r = mem.add("Lena plays the cello in an orchestra.")  # the model names "n9", which was never shown
    assert mem.stats()["notes"] == 2 and r.note.mentions == 1
    dropped = mem.aio.agents.meter.dropped
    assert [(d.kind, d.id, d.reason) for d in dropped] == [("duplicate", "n9", "not offered")]


def test_exact_repeats_stay_mentions_whatever_the_model_says(mem: Any) -> None:
    first = mem.add(JOB).note
    again = mem.add(JOB)  # the model says nothing; the engine still sees the repeat
    assert again.note.id == first.id and mem.history(first.id)[-1].kind == "mention"


def test_the_reply_schemas_offer_a_duplicates_list() -> None:
    from zettelmem.agents.llm.schemas import LinkReply, joint_reply

    joint = joint_reply(1).model_json_schema()
    entry = joint["$defs"]["JointEntry"]["properties"]
    assert entry["duplicates"]["items"] == {"$ref": "#/$defs/DuplicateOut"}
    assert set(joint["$defs"]["DuplicateOut"]["properties"]) == {"target", "rationale"}
    assert "duplicates" in LinkReply.model_json_schema()["properties"]
    assert LinkReply.model_validate({"links": []}).duplicates == []  # an older reply still validates


def test_a_duplicate_verdict_over_http_is_merged(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", use_llm=False)
    with Memory(settings) as offline:  # the older note, written by the offline agents
        first = offline.add(JOB).note
    with ReplayServer() as srv:
        srv.queue("joint_duplicate")
        llm_settings = LLMSettings(base_url=srv.base_url, model="replay", max_retries=0)
        suite: Any = llm_suite(llm_settings, settings.agents, offline_suite(settings.agents))
        with Memory(settings, agents=suite) as mem:
            r = mem.add(SAME)
            change = mem.history(first.id)[-1]
            assert r.note.id == first.id and change.kind == "merge" and change.agent.kind == "llm"
            assert "Ana's employer is Acme" in change.rationale and mem.stats()["notes"] == 1
            assert [(d.kind, d.id) for d in suite.meter.dropped] == [("duplicate", "n7")]
        request = srv.requests[0]
    tool = request["tools"][0]["function"]
    assert tool["name"] == "JointReply" and "duplicates" in json.dumps(tool["parameters"])
    assert '"duplicates"' in request["messages"][0]["content"]  # the prompt asks for it
