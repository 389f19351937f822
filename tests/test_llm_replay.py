"""Real replies, replayed: what llama.cpp's server with Qwen2.5-Coder-0.5B-Instruct answered in
tests/test_llm_live.py::test_live_joint_through_memory (``tests/replies/recorded_*.json``,
marked ``recorded`` with model and date; re-record with ``ZETTELMEM_RECORD_REPLIES=1``).

The same memories go through the same engine against the replay server: the prompt sent
must be the recorded one byte for byte (so the replies answer exactly these requests), and
each memory must get its own entry's attributes — never another memory's.
"""

from __future__ import annotations

import json
from datetime import UTC
from pathlib import Path
from typing import Any

import langchain_openai  # noqa: F401  (a test dependency: the real client path)
import pytest
from openai_replay_server import REPLIES, ReplayServer

from zettelmem import Memory
from zettelmem.agents.llm import llm_suite
from zettelmem.agents.offline import offline_suite
from zettelmem.cli.jsonl import bundled_dialogue
from zettelmem.config import HashingEmbeddingConfig, Settings
from zettelmem.llm import LLMSettings
from zettelmem.models import Scope

RECORDED = sorted(REPLIES.glob("recorded_dialogue_*.json"))
TURNS = 3  # as in test_live_joint_through_memory


def _fixtures() -> list[dict[str, Any]]:
    return [json.loads(p.read_text(encoding="utf-8")) for p in RECORDED]


def test_recorded_fixtures_say_what_recorded_them() -> None:
    assert RECORDED, "no recorded replies in tests/replies"
    for fixture in _fixtures():
        meta = fixture["recorded"]
        assert meta["model"] == "qwen2.5-coder-0.5b-instruct-q4_k_m" and meta["date"][:4] == "2026"
        assert meta["server"].startswith("llama.cpp") and meta["request_messages"]
        assert fixture["body"]["usage"]["prompt_tokens"] > 0


def test_recorded_dialogue_replays_onto_the_right_memories(tmp_path: Path) -> None:
    fixtures = _fixtures()
    turns = [r.item for r in bundled_dialogue(speaker_prefix=True)[:TURNS]]
    settings = Settings(home=tmp_path / "home", embedding=HashingEmbeddingConfig())
    with ReplayServer(honours=("json_schema",)) as srv:  # as llama.cpp's server: grammar, no tool_choice object
        srv.queue(*(p.stem for p in RECORDED))
        llm_settings = LLMSettings(base_url=srv.base_url, model=fixtures[0]["recorded"]["model"],
                                   batch_size=TURNS, max_retries=0, max_concurrency=1)
        suite: Any = llm_suite(llm_settings, settings.agents, offline_suite(settings.agents))
        meter = suite.meter
        with Memory(settings, agents=suite) as mem:
            results = mem.add_many(turns, scope=Scope(user_id="live"))
        requests = list(srv.requests)
    assert [r["messages"] for r in requests] == [f["recorded"]["request_messages"] for f in fixtures]
    assert requests[0]["response_format"]["json_schema"]["schema"]["required"] == [f"m{i + 1}" for i in range(TURNS)]
    totals = meter.by_task()["joint"]
    assert totals["fallbacks"] == 0 and totals["failures"] == 0
    assert totals["prompt_tokens"] == sum(f["body"]["usage"]["prompt_tokens"] for f in fixtures)

    reply = json.loads(fixtures[0]["body"]["choices"][0]["message"]["content"])
    for i, r in enumerate(results):
        mine = reply[f"m{i + 1}"]
        others = [reply[f"m{j + 1}"] for j in range(TURNS) if j != i]
        note = r.note
        assert note.content == turns[i]["content"] and note.built_by.kind == "llm"
        assert note.memory_type.value == mine["memory_type"] or turns[i].get("memory_type")
        assert set(note.keywords) <= set(mine["keywords"])  # its own entry's keywords, cleaned
        assert note.context in ("", mine["context"].strip())
        for other in others:  # nothing of another memory's entry unless it is also this one's
            if other["context"].strip() != mine["context"].strip():
                assert note.context != other["context"].strip()
            if {k.casefold() for k in other["keywords"]} == {k.casefold() for k in mine["keywords"]}:
                # copied keywords: only those found in this memory's own text stay
                assert all(k.casefold() in note.content.casefold() for k in note.keywords)
        assert not {"episodic", "semantic", "procedural", "core", "resource"} & {*note.tags, *note.keywords}
        assert all(e.casefold() in note.content.casefold() for e in note.entities)  # no invented names ("n1")
        assert note.event_time == turns[i]["event_time"].replace(tzinfo=UTC)  # the caller's time wins


@pytest.mark.parametrize("path", RECORDED, ids=[p.stem for p in RECORDED])
def test_recorded_reply_is_a_keyed_entry_per_memory(path: Path) -> None:
    from zettelmem.agents.llm.schemas import joint_reply

    fixture = json.loads(path.read_text(encoding="utf-8"))
    content = fixture["body"]["choices"][0]["message"]["content"]
    n = len(json.loads(content))
    reply = joint_reply(n).model_validate_json(content)
    assert reply.missing() == [] and reply.dropped() == []
