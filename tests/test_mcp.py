"""``zettelmem mcp`` as a real subprocess, driven by the official SDK's own client over stdio and HTTP.

Nothing here skips: the ``mcp`` extra is a test dependency, and the servers are
started by the tests themselves (a ``python -m zettelmem mcp`` child each).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from conftest import free_port
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import ReadResourceResult, TextResourceContents

ALICE = "alice-token-0123456789abcdef"
BOB = "bob-token-0123456789abcdef01"
FAST = {"ZETTELMEM_EMBEDDING__PROVIDER": "hashing", "ZETTELMEM_EMBEDDING__DIMS": "256"}

REFERENCE = ["create_entities", "create_relations", "add_observations", "delete_entities", "delete_observations",
             "delete_relations", "read_graph", "search_nodes", "open_nodes"]
VERBS = ["remember", "recall", "get_note", "update_note", "forget", "link", "unlink", "history", "revert"]


def _cmd(home: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "zettelmem", "--home", str(home), "--offline", "mcp", *args]


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZETTELMEM_")}
    return {**env, **(extra or {})}


@contextlib.asynccontextmanager
async def stdio_session(home: Path, *args: str, env: dict[str, str] | None = None) -> AsyncIterator[ClientSession]:
    cmd = _cmd(home, *args)
    params = StdioServerParameters(command=cmd[0], args=cmd[1:], env=_env(env), cwd=str(home.parent))
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        yield session


@contextlib.asynccontextmanager
async def http_session(url: str, token: str | None) -> AsyncIterator[ClientSession]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx2.AsyncClient(headers=headers, timeout=60) as http, \
            streamable_http_client(url, http_client=http) as (read, write), \
            ClientSession(read, write) as session:
        await session.initialize()
        yield session


async def call(session: ClientSession, tool: str, args: dict[str, Any] | None = None) -> dict[str, Any]:
    """Call a tool that must succeed; its structured content."""
    result = await session.call_tool(tool, args or {})
    assert not result.is_error, f"{tool} failed: {result.content}"
    assert result.structured_content is not None, f"{tool} returned no structured content"
    return dict(result.structured_content)


def text_of(result: ReadResourceResult) -> TextResourceContents:
    content = result.contents[0]
    assert isinstance(content, TextResourceContents)
    return content


async def call_error(session: ClientSession, tool: str, args: dict[str, Any]) -> str:
    """Call a tool that must fail with a tool error result; its message."""
    result = await session.call_tool(tool, args)
    assert result.is_error, f"{tool} should have failed: {result.structured_content}"
    return " ".join(getattr(c, "text", "") for c in result.content)


# -- the sequences, shared by both transports ---------------------------------------------------
async def remember_recall_forget(session: ClientSession) -> None:
    made = await call(session, "remember", {"content": "I adopted a beagle named Biscuit in Porto.",
                                            "tags": ["pets"], "time": "2024-05-02"})
    note = made["note"]
    assert note["content"] == "I adopted a beagle named Biscuit in Porto." and "pets" in note["tags"]
    assert note["event_time"].startswith("2024-05-02")
    await call(session, "remember", {"content": "My sister lives in Lisbon and teaches chemistry."})
    hits = (await call(session, "recall", {"query": "what is the name of my dog, the beagle?", "k": 2}))["hits"]
    assert hits[0]["note"]["id"] == note["id"] and hits[0]["why"]
    assert hits[0]["reasons"] and {r["kind"] for r in hits[0]["reasons"]} & {"dense", "lexical"}
    got = await call(session, "get_note", {"note_id": note["id"]})
    assert got["note"]["content"] == note["content"]
    gone = await call(session, "forget", {"note_id": note["id"]})
    assert gone["count"] == 1 and gone["removed"][0]["id"] == note["id"]
    assert gone["removed"][0]["content"] == note["content"]  # says what was removed
    hits = (await call(session, "recall", {"query": "beagle Biscuit", "k": 5}))["hits"]
    assert note["id"] not in [h["note"]["id"] for h in hits]
    message = await call_error(session, "get_note", {"note_id": note["id"]})
    assert "NoteNotFound" in message and note["id"] in message


async def reference_sequence(session: ClientSession) -> None:
    """The reference server's typical calls, with the answers it would give."""
    created = await call(session, "create_entities", {"entities": [
        {"name": "Ana", "entityType": "person", "observations": ["Speaks Portuguese", "Likes green tea"]},
        {"name": "Acme", "entityType": "organization", "observations": ["Makes anvils"]},
    ]})
    assert [e["name"] for e in created["entities"]] == ["Ana", "Acme"]
    again = await call(session, "create_entities", {"entities": [
        {"name": "Ana", "entityType": "person", "observations": []}]})
    assert again == {"entities": []}  # existing names are skipped, as the reference does
    rels = await call(session, "create_relations", {"relations": [
        {"from": "Ana", "to": "Acme", "relationType": "works_at"},
        {"from": "Ana", "to": "Acme", "relationType": "founded"}]})
    assert rels["relations"][0] == {"from": "Ana", "to": "Acme", "relationType": "works_at"}
    dup = await call(session, "create_relations", {"relations": [
        {"from": "Ana", "to": "Acme", "relationType": "works_at"}]})
    assert dup == {"relations": []}
    added = await call(session, "add_observations", {"observations": [
        {"entityName": "Ana", "contents": ["Runs marathons", "Likes green tea"]}]})
    assert added == {"results": [{"entityName": "Ana", "addedObservations": ["Runs marathons"]}]}
    message = await call_error(session, "add_observations", {"observations": [
        {"entityName": "Nobody", "contents": ["x"]}]})
    assert "Entity with name Nobody not found" in message
    graph = await call(session, "read_graph")
    assert graph["entities"] == [
        {"name": "Ana", "entityType": "person",
         "observations": ["Speaks Portuguese", "Likes green tea", "Runs marathons"]},
        {"name": "Acme", "entityType": "organization", "observations": ["Makes anvils"]}]
    assert graph["relations"] == [{"from": "Ana", "to": "Acme", "relationType": "works_at"},
                                  {"from": "Ana", "to": "Acme", "relationType": "founded"}]
    found = await call(session, "search_nodes", {"query": "anvil"})
    assert [e["name"] for e in found["entities"]] == ["Acme"] and len(found["relations"]) == 2
    found = await call(session, "search_nodes", {"query": "where does Ana live"})  # no substring match: terms
    assert "Ana" in [e["name"] for e in found["entities"]]
    assert (await call(session, "search_nodes", {"query": "zeppelin"}))["entities"] == []
    opened = await call(session, "open_nodes", {"names": ["Ana", "Ghost"]})
    assert [e["name"] for e in opened["entities"]] == ["Ana"] and len(opened["relations"]) == 2
    # the entities are memories too: recall finds an observation, with its entity linked
    hits = (await call(session, "recall", {"query": "who runs marathons?", "k": 3}))["hits"]
    assert hits[0]["note"]["content"] == "Ana: Runs marathons"
    ack = await call(session, "delete_observations", {"deletions": [
        {"entityName": "Ana", "observations": ["Likes green tea"]}]})
    assert ack["success"] is True
    ack = await call(session, "delete_relations", {"relations": [
        {"from": "Ana", "to": "Acme", "relationType": "founded"}]})
    assert ack["success"] is True
    graph = await call(session, "read_graph")
    assert graph["entities"][0]["observations"] == ["Speaks Portuguese", "Runs marathons"]
    assert graph["relations"] == [{"from": "Ana", "to": "Acme", "relationType": "works_at"}]
    await call(session, "delete_entities", {"entityNames": ["Acme"]})
    graph = await call(session, "read_graph")
    assert [e["name"] for e in graph["entities"]] == ["Ana"] and graph["relations"] == []


# -- stdio ----------------------------------------------------------------------------------------
async def test_stdio_tools_schemas_and_annotations(tmp_path: Path) -> None:
    async with stdio_session(tmp_path / "home", env=FAST) as session:
        tools = {t.name: t for t in (await session.list_tools()).tools}
        assert set(REFERENCE + VERBS) <= set(tools)
        hints = {}
        for tool in tools.values():
            assert tool.output_schema is not None and tool.annotations is not None, tool.name
            assert tool.annotations.read_only_hint is not None and tool.annotations.destructive_hint is not None
            hints[tool.name] = tool.annotations
        assert hints["read_graph"].read_only_hint is True
        assert hints["delete_entities"].destructive_hint is True
        assert hints["forget"].destructive_hint is True
        assert hints["create_entities"].idempotent_hint is False
        # the reference shapes: same argument names, same required keys
        schema = tools["create_relations"].input_schema
        rel = schema["$defs"]["KGRelation"]
        assert set(rel["properties"]) == {"from", "to", "relationType"} and set(rel["required"]) == set(rel["properties"])
        assert tools["delete_entities"].input_schema["required"] == ["entityNames"]
        assert tools["open_nodes"].input_schema["required"] == ["names"]
        assert set((tools["read_graph"].output_schema or {})["properties"]) == {"entities", "relations"}


async def test_stdio_remember_recall_forget_with_the_local_model(tmp_path: Path) -> None:
    async with stdio_session(tmp_path / "home", "--user", "alice") as session:  # default ONNX embedder
        await remember_recall_forget(session)


async def test_stdio_reference_sequence_and_errors_keep_the_session(tmp_path: Path) -> None:
    home = tmp_path / "home"
    async with stdio_session(home, env=FAST) as session:
        await reference_sequence(session)
        message = await call_error(session, "remember", {"content": "   "})
        assert "EmptyContent" in message
        message = await call_error(session, "recall", {"query": "x", "k": 500})  # schema: k <= 50
        assert "less than or equal to 50" in message
        message = await call_error(session, "remember", {"content": "x", "namespace": "../other"})
        assert "narrows the bound scope" in message
        assert (await call(session, "read_graph"))["entities"][0]["name"] == "Ana"  # still serving
    # what the reference tools wrote is notes and links of the bound scope, readable by the CLI
    out = subprocess.run([sys.executable, "-m", "zettelmem", "--home", str(home), "--json", "search", "marathons"],
                         capture_output=True, text=True, env=_env(FAST), check=True)
    assert "Ana: Runs marathons" in [h["note"]["content"] for h in json.loads(out.stdout)]


async def test_stdio_resources(tmp_path: Path) -> None:
    async with stdio_session(tmp_path / "home", env=FAST) as session:
        note = (await call(session, "remember", {"content": "Tea at five with Jun."}))["note"]
        other = (await call(session, "remember", {"content": "Jun brings scones to tea."}))["note"]
        await call(session, "link", {"source": other["id"], "target": note["id"], "relation": "elaborates"})
        res = await session.read_resource(f"zettelmem://note/{note['id']}")
        data = json.loads(text_of(res).text)
        assert data["note"]["content"] == "Tea at five with Jun."
        assert any(lk["source"] == other["id"] and lk["relation"] == "elaborates" for lk in data["links"])
        graph = json.loads(text_of(await session.read_resource("zettelmem://graph")).text)
        assert {n["id"] for n in graph["nodes"]} == {note["id"], other["id"]}
        html = text_of(await session.read_resource("zettelmem://graph.html"))
        assert html.mime_type == "text/html" and "<html" in html.text.lower() and "Jun brings scones" in html.text
        kg = json.loads(text_of(await session.read_resource("memory://knowledge-graph")).text)
        assert kg == {"entities": [], "relations": []}


# -- streamable HTTP ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def http_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("mcp-http")
    tokens = root / "tokens.json"
    tokens.write_text(json.dumps({"tokens": [
        {"token": ALICE, "user": "alice"},
        {"sha256": __import__("hashlib").sha256(BOB.encode()).hexdigest(), "user": "bob"},
    ]}))
    port = free_port()
    log = root / "server.log"
    with log.open("wb") as err:  # a file, not a pipe: a chatty server never blocks on a full pipe
        proc = subprocess.Popen(_cmd(root / "home", "--transport", "http", "--port", str(port), "--tokens",
                                     str(tokens)), env=_env(FAST), stdout=subprocess.DEVNULL, stderr=err, cwd=str(root))
    deadline = time.monotonic() + 120
    while True:
        if proc.poll() is not None:
            raise AssertionError(f"zettelmem mcp exited: {log.read_text(errors='replace')}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            break
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("zettelmem mcp did not listen within 120 s")
        time.sleep(0.2)
    yield f"http://127.0.0.1:{port}/mcp"
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


async def test_http_remember_recall_forget(http_url: str) -> None:
    async with http_session(http_url, ALICE) as session:
        await remember_recall_forget(session)


async def test_http_reference_sequence(http_url: str) -> None:
    async with http_session(http_url, BOB) as session:
        await reference_sequence(session)
        await call(session, "delete_entities", {"entityNames": ["Ana"]})  # leave bob's graph empty


async def test_http_tokens_do_not_see_each_others_notes(http_url: str) -> None:
    async with http_session(http_url, ALICE) as alice:
        secret = (await call(alice, "remember", {"content": "Alice's locker code is 4417."}))["note"]
        await call(alice, "create_entities", {"entities": [
            {"name": "Locker", "entityType": "thing", "observations": ["code 4417"]}]})
    async with http_session(http_url, BOB) as bob:
        hits = (await call(bob, "recall", {"query": "locker code 4417", "k": 10}))["hits"]
        assert all("4417" not in h["note"]["content"] for h in hits)
        assert (await call(bob, "read_graph"))["entities"] == []
        assert (await call(bob, "search_nodes", {"query": "Locker"}))["entities"] == []
        assert "NoteNotFound" in await call_error(bob, "get_note", {"note_id": secret["id"]})
        assert "NoteNotFound" in await call_error(bob, "forget", {"note_id": secret["id"]})
        with pytest.raises(Exception, match="no note"):
            await bob.read_resource(f"zettelmem://note/{secret['id']}")
        graph = json.loads(text_of(await bob.read_resource("zettelmem://graph")).text)
        assert secret["id"] not in {n["id"] for n in graph["nodes"]}
    async with http_session(http_url, ALICE) as alice:  # untouched by bob's attempts
        assert (await call(alice, "get_note", {"note_id": secret["id"]}))["note"]["content"].endswith("4417.")
        # a namespace argument narrows alice's scope, it does not reach another one
        await call(alice, "remember", {"content": "Quarterly report due Friday.", "namespace": "work"})
        inside = (await call(alice, "recall", {"query": "quarterly report", "namespace": "work"}))["hits"]
        assert [h["note"]["content"] for h in inside] == ["Quarterly report due Friday."]
        outside = (await call(alice, "recall", {"query": "quarterly report"}))["hits"]
        assert "Quarterly report due Friday." not in [h["note"]["content"] for h in outside]


@pytest.mark.parametrize("token", [None, "not-a-known-token-000000", BOB[:-1]])
async def test_http_refuses_a_missing_or_bad_token_with_401(http_url: str, token: str | None) -> None:
    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    body = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                       "clientInfo": {"name": "t", "version": "0"}}}
    async with httpx2.AsyncClient(timeout=30) as http:
        response = await http.post(http_url, json=body, headers=headers)
    assert response.status_code == 401
    assert "Bearer" in response.headers.get("www-authenticate", "")
    with pytest.raises(BaseException):  # the SDK client cannot even initialize  # noqa: B017
        async with http_session(http_url, token):
            pass


def test_http_needs_tokens_or_an_explicit_loopback_no_auth(tmp_path: Path) -> None:
    out = subprocess.run(_cmd(tmp_path / "home", "--transport", "http", "--port", str(free_port())),
                         capture_output=True, text=True, env=_env(FAST), timeout=120)
    assert out.returncode != 0 and "--tokens" in out.stderr
    out = subprocess.run(_cmd(tmp_path / "home", "--transport", "http", "--host", "0.0.0.0", "--no-auth"),
                         capture_output=True, text=True, env=_env(FAST), timeout=120)
    assert out.returncode != 0 and "loopback" in out.stderr


async def test_a_crashing_call_is_a_failed_result_and_the_server_keeps_serving(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mcp import Client

    from zettelmem.config import HashingEmbeddingConfig, Settings
    from zettelmem.engine.core import AsyncMemory
    from zettelmem.mcp import ServerConfig, build_server

    mem = AsyncMemory(Settings(home=tmp_path / "home", embedding=HashingEmbeddingConfig()))
    try:
        async def boom(*args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("disk on fire /secret/path")

        async with Client(build_server(mem, ServerConfig())) as client:
            await client.call_tool("remember", {"content": "Rosa keeps a sourdough starter."})
            monkeypatch.setattr(mem, "search", boom)
            failed = await client.call_tool("recall", {"query": "sourdough"})
            assert failed.is_error
            text = " ".join(getattr(c, "text", "") for c in failed.content)
            assert "recall" in text and "/secret/path" not in text  # an unexpected error's text stays in the log
            monkeypatch.undo()
            again = await client.call_tool("recall", {"query": "sourdough"})
            assert not again.is_error and again.structured_content is not None
            assert again.structured_content["hits"][0]["note"]["content"] == "Rosa keeps a sourdough starter."
    finally:
        await mem.aclose()


async def test_knowledge_graph_is_notes_and_links_a_late_entity_is_linked(tmp_path: Path) -> None:
    from mcp import Client

    from zettelmem.config import HashingEmbeddingConfig, Settings
    from zettelmem.engine.core import AsyncMemory
    from zettelmem.mcp import ServerConfig, build_server

    mem = AsyncMemory(Settings(home=tmp_path / "home", embedding=HashingEmbeddingConfig()))
    try:
        async with Client(build_server(mem, ServerConfig())) as client:
            async def ok(tool: str, args: dict[str, Any]) -> dict[str, Any]:
                result = await client.call_tool(tool, args)
                assert not result.is_error and result.structured_content is not None, result.content
                return dict(result.structured_content)

            # the reference accepts a relation before its entities exist; it is linked once they do
            await ok("create_relations", {"relations": [{"from": "Uma", "to": "Vik", "relationType": "mentors"}]})
            await ok("create_entities", {"entities": [{"name": "Uma", "entityType": "person", "observations": []},
                                                      {"name": "Vik", "entityType": "person",
                                                       "observations": ["Vik studies botany"]}]})
            graph = json.loads(text_of(await client.read_resource("zettelmem://graph")).text)
            by_content = {n["content"]: n["id"] for n in graph["nodes"]}
            uma, vik, rel = by_content["Uma (person)"], by_content["Vik (person)"], by_content["Uma mentors Vik"]
            obs = by_content["Vik studies botany"]  # names the entity already: stored as written
            edges = {(e["source"], e["target"], e["relation"]) for e in graph["edges"]}
            assert {(uma, rel, "relates_to"), (rel, vik, "relates_to"), (obs, vik, "elaborates")} <= edges
            kg = await ok("open_nodes", {"names": ["Vik"]})
            assert kg["entities"] == [{"name": "Vik", "entityType": "person", "observations": ["Vik studies botany"]}]
            assert kg["relations"] == [{"from": "Uma", "to": "Vik", "relationType": "mentors"}]
            # forgetting an entity's note through zettelmem's own verb is seen by the reference tools
            await ok("forget", {"note_id": vik})
            assert [e["name"] for e in (await ok("read_graph", {}))["entities"]] == ["Uma"]
    finally:
        await mem.aclose()
