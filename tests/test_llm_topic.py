"""LLM topic text: consolidation with LLM agents writes each touched topic note's text in one call,
held to the grounding rule, with the extractive text kept (and the reason recorded) on failure.
Against a scripted model and over real HTTP against the loopback replay server."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from openai_replay_server import ReplayServer

from zettelmem import Memory, Provenance, Scope, Settings
from zettelmem.agents.llm import llm_suite
from zettelmem.agents.offline import offline_suite
from zettelmem.config import ConsolidationConfig, HashingEmbeddingConfig
from zettelmem.engine.consolidate import is_topic
from zettelmem.errors import LLMError
from zettelmem.llm import LLMSettings, ScriptedLLM
from zettelmem.testing.consolidation import ANA, BEN

SCOPE = Scope(user_id="llm-topic")


def _settings(home: Path) -> Settings:
    return Settings(home=home, embedding=HashingEmbeddingConfig(), use_llm=False,
                    consolidation=ConsolidationConfig(join_threshold=0.2, max_members=3))


def _fill(home: Path) -> dict[str, str]:
    """Notes built offline (so only topic calls reach the model later)."""
    items = [{"content": t, "provenance": Provenance(speaker="Ana", session=str(i))} for i, t in enumerate(ANA)]
    items += [{"content": t, "provenance": Provenance(speaker="Ben", session=str(i))} for i, t in enumerate(BEN)]
    with Memory(_settings(home)) as m:
        return {r.note.content: r.note.id for r in m.add_many(items, scope=SCOPE)}


def _members_of(messages: Sequence[tuple[str, str]]) -> list[str]:
    user = messages[1][1]
    block = user.split('<data name="notes">\n')[1].split("\n</data>")[0]
    return [str(n["content"]) for n in json.loads(block)]


def _memory(home: Path, llm: Any, **llm_settings: Any) -> Memory:
    settings = _settings(home)
    suite = llm_suite(LLMSettings(**llm_settings), settings.agents, offline_suite(settings.agents), llm)
    return Memory(settings, agents=suite)


def test_each_touched_topic_note_gets_one_grounded_llm_text(tmp_path: Path) -> None:
    _fill(tmp_path)
    seen: list[list[str]] = []

    def writer(messages: Sequence[tuple[str, str]], schema: Any, task: str) -> dict[str, Any]:
        assert task == "topic"
        members = _members_of(messages)
        seen.append(members)
        return {"summary": "; ".join(" ".join(c.split()[:5]) for c in members) + "."}  # grounded, abridged

    llm = ScriptedLLM(default=writer)
    with _memory(tmp_path, llm) as m:
        before = {n.id: n for n in m.list(SCOPE)}
        report = m.consolidate(scope=SCOPE)
        topics = [n for n in m.list(SCOPE) if is_topic(n)]
        assert topics and sorted(report.written) == sorted(t.id for t in topics) and not report.fallbacks
        assert len(seen) == len(topics) == llm.meter.totals()["calls"]  # one call per topic note
        for t in topics:
            members = [before[i] for i in t.metadata["members"]]
            assert t.content == "; ".join(" ".join(n.content.split()[:5]) for n in members) + "."
            assert t.built_by.kind == "llm" and t.built_by.agent == "llm.topic" and t.built_by.version == "1"
            last = m.history(t.id, SCOPE)[-1]
            assert last.kind == "consolidate" and last.after == {"content": t.content}
            assert all(before[i].content in last.before["content"] for i in t.metadata["members"])  # extractive
        assert {n.id: n for n in m.list(SCOPE) if not is_topic(n)} == before  # members never rewritten
        assert m.check(scope=SCOPE).ok
        undo = m.revert(m.history(topics[0].id, SCOPE)[-1].id, SCOPE)  # back to the extractive text
        assert all(before[i].content in m.get(topics[0].id, SCOPE).content for i in topics[0].metadata["members"])
        assert undo.reverts and m.check(scope=SCOPE).ok
        again = m.consolidate(scope=SCOPE)
        assert again.written == [] and len(seen) == len(topics)  # nothing touched, no call


def test_an_ungrounded_or_failed_text_keeps_the_extractive_one(tmp_path: Path) -> None:
    _fill(tmp_path)
    replies: list[Any] = [{"summary": "Ana bakes sourdough bread and rye bread at her bakery in Zanzibar."},
                          LLMError("the model is down")]

    def script(messages: Sequence[tuple[str, str]], schema: Any, task: str) -> Any:
        reply = replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return reply

    llm = ScriptedLLM(default=script)
    with _memory(tmp_path, llm) as m:
        before = {n.id: n for n in m.list(SCOPE)}
        report = m.consolidate(scope=SCOPE)
        topics = [n for n in m.list(SCOPE) if is_topic(n)]
        assert len(topics) == 2 and report.written == []
        reasons = sorted(report.fallbacks.values())
        assert reasons[0].startswith("LLMError") and reasons[1].startswith("ungrounded: summary introduces")
        for t in topics:
            assert all(before[i].content in t.content for i in t.metadata["members"])  # the extractive text
            assert "Zanzibar" not in t.content and t.built_by.kind == "offline"
            assert t.built_by.fallback_reason == report.fallbacks[t.id]
            assert all(c.kind == "consolidate" and "Zanzibar" not in c.model_dump_json()
                       for c in m.history(t.id, SCOPE))
        assert llm.meter.totals()["fallbacks"] == 1  # the failed call; the ungrounded reply is the guard's
        assert m.check(scope=SCOPE).ok


def test_topic_text_over_http_from_the_replay_server(tmp_path: Path) -> None:
    ids = _fill(tmp_path)
    with ReplayServer() as server:
        server.queue("topic_good", "server_error_500")
        with _memory(tmp_path, None, base_url=server.base_url, model="replay-model", max_retries=0) as m:
            report = m.consolidate(scope=SCOPE)
            topics = {t.id: t for t in m.list(SCOPE) if is_topic(t)}
        requests = list(server.requests)
    assert len(requests) == 2 and all(r["tools"][0]["function"]["name"] == "TopicReply" for r in requests)
    assert "Ana bakes sourdough bread" in json.dumps(requests[0]["messages"])
    [written] = report.written
    assert topics[written].content == "Ana bakes sourdough bread at her bakery, which sells sourdough and rye bread."
    assert topics[written].built_by.model == "replay-model"
    [(failed, reason)] = report.fallbacks.items()
    assert "500" in reason or "InternalServerError" in reason or "LLM" in reason
    assert ids[BEN[0]] in topics[failed].metadata["members"] and BEN[0] in topics[failed].content
