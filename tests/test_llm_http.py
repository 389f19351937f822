"""The real client path: ChatOpenAI → HTTP → an OpenAI-compatible server on loopback
(tests/openai_replay_server.py) replaying hand-written wire replies (tests/replies/)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from typing import Any

import langchain_openai  # noqa: F401  (a test dependency: the real client path is what these tests cross)
import pytest
from openai_replay_server import ReplayServer

from zettelmem.agents.base import AgentSuite, Candidate, MemoryInput, NoteDraft
from zettelmem.agents.llm import llm_suite
from zettelmem.agents.llm.schemas import joint_reply
from zettelmem.config import AgentsConfig
from zettelmem.errors import LLMError, StructuredOutputError
from zettelmem.llm import LLMSettings, Message, OpenAIChatLLM
from zettelmem.models import BuiltBy, Note

MESSAGES: list[Message] = [("system", "You build notes."), ("user", "New memories: ...")]
JointReply = joint_reply(1)


@pytest.fixture
def server() -> Iterator[ReplayServer]:
    with ReplayServer() as srv:
        yield srv


class Sleeps(list[float]):
    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def client(server: ReplayServer, sleeps: Sleeps | None = None, **kw: Any) -> OpenAIChatLLM:
    settings = LLMSettings(
        base_url=server.base_url,
        model="replay-model",
        timeout=kw.pop("timeout", 5.0),
        max_retries=kw.pop("max_retries", 2),
        backoff_initial=0.25,
        structured_method=kw.pop("structured_method", "function_calling"),
        **kw,
    )
    return OpenAIChatLLM(settings, sleep=sleeps if sleeps is not None else Sleeps())


def complete(llm: OpenAIChatLLM, schema: type = JointReply) -> Any:
    async def go() -> Any:
        try:
            return await llm.complete(MESSAGES, schema, task="joint")
        finally:
            await llm.aclose()

    return asyncio.run(go())


def test_good_structured_reply_and_wire_usage(server: ReplayServer) -> None:
    server.queue("joint_good")
    llm = client(server)
    reply = complete(llm)
    assert isinstance(reply, JointReply)
    assert list(reply.entries()) == ["m1"]
    note = reply.entries()["m1"]
    assert note.links[0].target == "n1" and note.evolve[0].target == "n1"
    totals = llm.meter.totals()
    assert (totals["calls"], totals["requests"]) == (1, 1)
    assert (totals["prompt_tokens"], totals["completion_tokens"]) == (812, 143)
    assert llm.meter.records[0].outcome == "ok" and llm.meter.records[0].latency_s > 0
    [request] = server.requests
    assert request["model"] == "replay-model" and request["temperature"] == 0.0
    assert request["tool_choice"]["function"]["name"] == "JointReply"
    assert request["tools"][0]["function"]["parameters"]["required"] == ["m1"]
    assert request["messages"] == [
        {"role": "system", "content": "You build notes."},
        {"role": "user", "content": "New memories: ..."},
    ]
    assert server.headers[0]["authorization"] == "Bearer not-needed"


def test_malformed_json_gets_one_repair(server: ReplayServer) -> None:
    server.queue("joint_malformed_json", "joint_good")
    llm = client(server)
    assert complete(llm).m1 is not None
    [record] = llm.meter.records
    assert (record.outcome, record.requests) == ("repaired", 2)
    assert (record.prompt_tokens, record.completion_tokens) == (812 + 812, 40 + 143)
    repair = server.requests[1]["messages"]
    assert len(repair) == 3 and repair[:2] == server.requests[0]["messages"]
    assert "not valid JSON" in repair[2]["content"] and '<data name="previous_reply">' in repair[2]["content"]


def test_schema_violation_twice_raises(server: ReplayServer) -> None:
    server.queue("joint_schema_violation", "joint_no_tool_call")
    llm = client(server)
    with pytest.raises(StructuredOutputError, match="did not call the tool"):
        complete(llm)
    assert "m1.context: Field required" in server.requests[1]["messages"][-1]["content"]
    totals = llm.meter.totals()
    assert (totals["calls"], totals["requests"], totals["failures"]) == (1, 2, 1)
    assert totals["prompt_tokens"] == 1624  # a failed call's tokens are still counted


def test_rate_limit_is_retried_honouring_retry_after(server: ReplayServer) -> None:
    server.queue("rate_limited_429", "joint_good")
    sleeps = Sleeps()
    llm = client(server, sleeps)
    complete(llm)
    assert sleeps == [0.05]
    assert llm.meter.records[0].outcome == "retried" and llm.meter.records[0].requests == 2


def test_server_errors_retry_with_backoff_then_fail(server: ReplayServer) -> None:
    server.queue(*["server_error_500"] * 3)
    sleeps = Sleeps()
    llm = client(server, sleeps, max_retries=2)
    with pytest.raises(LLMError, match=r"after 3 attempts.*500"):
        complete(llm)
    assert len(server.requests) == 3
    assert len(sleeps) == 2 and 0.125 <= sleeps[0] <= 0.25 and 0.25 <= sleeps[1] <= 0.5
    assert llm.meter.totals()["failures"] == 1


def test_server_error_then_success(server: ReplayServer) -> None:
    server.queue("server_error_500", "joint_good")
    llm = client(server)
    complete(llm)
    assert llm.meter.records[0].outcome == "retried"


def test_slow_reply_times_out_and_is_retried(server: ReplayServer) -> None:
    server.queue("slow_joint_good", "joint_good")
    llm = client(server, timeout=0.5)
    assert complete(llm).m1 is not None
    assert llm.meter.records[0].outcome == "retried" and len(server.requests) == 2


def test_slow_replies_fail_for_good(server: ReplayServer) -> None:
    server.queue("slow_joint_good", "slow_joint_good")
    llm = client(server, timeout=0.3, max_retries=1)
    with pytest.raises(LLMError, match=r"(?i)timeout|timed out"):
        complete(llm)


@pytest.mark.parametrize("name", ["bad_request_400", "unauthorized_401"])
def test_client_errors_are_not_retried(server: ReplayServer, name: str) -> None:
    server.queue(name)
    llm = client(server)
    with pytest.raises(LLMError) as info:
        complete(llm)
    assert not isinstance(info.value, StructuredOutputError)
    assert len(server.requests) == 1


def test_json_schema_method(server: ReplayServer) -> None:
    server.queue("joint_good_json_schema")
    llm = client(server, structured_method="json_schema")
    assert complete(llm).m1.keywords[0] == "hiking"
    fmt = server.requests[0]["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["name"] == "JointReply"
    assert "tools" not in server.requests[0]


# -- agents over HTTP --------------------------------------------------------------------

OFF = BuiltBy(kind="offline", agent="fake-offline")


class _Builder:
    async def build(self, items: Any) -> list[NoteDraft]:
        return [NoteDraft(context="offline", built_by=OFF) for _ in items]


class _Nothing:
    async def link(self, note: Any, candidates: Any) -> list[Any]:
        return []

    async def evolve(self, trigger: Any, linked: Any, links: Any) -> list[Any]:
        return []


OFFLINE = AgentSuite(builder=_Builder(), linker=_Nothing(), evolver=_Nothing())
ANNA = Note(id="id-anna", content="Anna is my sister; she lives in Zurich.", version=4)


def decide(server: ReplayServer, items: list[MemoryInput], cands: list[list[Candidate]], **kw: Any) -> Any:
    settings = LLMSettings(base_url=server.base_url, model="replay-model", backoff_initial=0.0, **kw)
    suite: Any = llm_suite(settings, AgentsConfig(), OFFLINE)

    async def go() -> Any:
        try:
            return await suite.joint.decide(items, cands)
        finally:
            await suite.aclose()

    return asyncio.run(go()), suite.meter


def test_joint_agent_over_http(server: ReplayServer) -> None:
    server.queue("joint_good")
    [d], meter = decide(
        server, [MemoryInput(content="I went hiking with Anna in the Alps.")], [[Candidate(note=ANNA, similarity=0.8)]]
    )
    assert d.draft.built_by.kind == "llm" and d.draft.built_by.model == "replay-model"
    assert d.links[0].target_id == "id-anna"
    assert d.evolutions[0].target_id == "id-anna" and d.evolutions[0].expected_version == 4
    assert meter.by_task()["joint"]["total_tokens"] == 955
    # auto: the replay server rejects a json_schema response format and honours a named tool
    assert [p.get("tool_choice", p.get("response_format", {}).get("type")) for p in server.probes] == [
        "json_schema", {"type": "function", "function": {"name": "zettelmem_probe"}}
    ]
    assert meter.by_task()["probe"]["calls"] == 1 and meter.by_task()["probe"]["total_tokens"] == 26  # the 400 is free
    assert "tool_choice" in server.requests[0]
    assert "Anna is my sister" in server.requests[0]["messages"][1]["content"]


def test_joint_agent_drops_invented_ids_from_the_wire(server: ReplayServer) -> None:
    server.queue("joint_hallucinated_ids")
    [d], meter = decide(server, [MemoryInput(content="Hiking with Anna.")], [[Candidate(note=ANNA, similarity=0.8)]])
    assert [link.target_id for link in d.links] == ["id-anna"]
    assert d.evolutions == []
    assert {(x.kind, x.id) for x in meter.dropped} == {
        ("link", "n7"),
        ("link", "4f9c2a"),
        ("evolution", "n2"),
        ("memory", "m9"),
    }


def test_joint_agent_falls_back_when_the_server_keeps_failing(server: ReplayServer) -> None:
    server.queue(*["server_error_500"] * 2)
    decisions, meter = decide(server, [MemoryInput(content="one"), MemoryInput(content="two")], [[], []], max_retries=1)
    assert [d.draft.built_by.kind for d in decisions] == ["offline", "offline"]
    assert decisions[0].draft.built_by.fallback_reason.startswith("LLMError: LLM request failed after 2")
    assert meter.totals()["fallbacks"] == 2 and meter.totals()["failures"] == 1


def test_json_mode_puts_the_schema_in_the_prompt(server: ReplayServer) -> None:
    server.queue("joint_good_json_schema")
    llm = client(server, structured_method="json_mode")
    assert complete(llm).m1 is not None
    request = server.requests[0]
    assert request["response_format"] == {"type": "json_object"}
    assert '"m1"' in request["messages"][0]["content"] and "JSON schema" in request["messages"][0]["content"]


# -- structured_method=auto -------------------------------------------------------------


@pytest.mark.parametrize(
    ("honours", "chosen", "probes"),
    [
        (("json_schema", "function_calling"), "json_schema", 1),  # OpenAI, vLLM
        (("json_schema",), "json_schema", 1),  # llama.cpp's server: tool_choice objects ignored
        (("function_calling",), "function_calling", 2),
        ((), "json_mode", 2),  # neither honoured: the schema goes into the prompt
    ],
)
def test_auto_probes_once_per_endpoint(honours: tuple[str, ...], chosen: str, probes: int) -> None:
    reply = {"json_schema": "joint_good_json_schema", "function_calling": "joint_good"}.get(chosen, "joint_good_json_schema")
    with ReplayServer(honours=honours) as srv:
        srv.queue(reply, reply)
        first = client(srv, structured_method="auto")
        assert first.structured_method is None  # not probed yet
        assert complete(first).m1.keywords[0] == "hiking"
        assert first.structured_method == chosen
        second = client(srv, structured_method="auto")  # a new client, same endpoint: no new probe
        assert second.structured_method == chosen
        assert complete(second).m1 is not None
        assert len(srv.probes) == probes
    request = srv.requests[0]
    if chosen == "json_schema":
        fmt = request["response_format"]
        assert fmt["type"] == "json_schema" and fmt["json_schema"]["name"] == "JointReply"
        assert fmt["json_schema"]["schema"]["required"] == ["m1"]  # the keyed schema, as written
        assert "strict" not in fmt["json_schema"] and "tools" not in request
    elif chosen == "function_calling":
        assert request["tool_choice"]["function"]["name"] == "JointReply"
    else:
        assert request["response_format"] == {"type": "json_object"}
    assert first.meter.by_task()["probe"]["requests"] == probes
    assert "probe" not in second.meter.by_task()


def test_auto_probe_against_a_dead_endpoint_fails_the_call_and_caches_nothing() -> None:
    
    settings = LLMSettings(base_url=f"http://127.0.0.1:{free_port()}/v1", model="nobody", max_retries=0, timeout=2)
    llm = OpenAIChatLLM(settings, sleep=Sleeps())
    with pytest.raises(LLMError, match="probe failed"):
        complete(llm)
    assert llm.structured_method is None
    assert llm.meter.by_task()["probe"]["failures"] == 1
