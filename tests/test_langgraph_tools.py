"""LangGraph tools and nodes where a user used to lose or mix up memories (issue 12, part 2).

Each test here failed on the code before the fix: tools and nodes wrote to a scope
shared by every user when none was known, bound tools ignored the run context's
user, an AsyncMemory stored nothing, a memory error ended the agent run, and
greetings, questions and repeats were stored as memories.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode

from zettelmem import AsyncMemory, Memory, Scope, Settings
from zettelmem.config import HashingEmbeddingConfig
from zettelmem.errors import ConfigurationError
from zettelmem.langgraph import (
    MemoryState,
    ZettelStore,
    make_memory_tools,
    make_recall,
    make_remember,
    namespace_scope,
    recall,
    remember,
)
from zettelmem.langgraph._filter import skip_reason


@dataclass
class Ctx:
    user_id: str
    memory: Any = None


@pytest.fixture
def memory(tmp_path: Path) -> Iterator[Memory]:
    m = Memory(Settings(home=tmp_path / "home", embedding=HashingEmbeddingConfig()))
    yield m
    m.close()


@pytest.fixture
async def amemory(tmp_path: Path) -> AsyncIterator[AsyncMemory]:
    m = AsyncMemory(Settings(home=tmp_path / "ahome", embedding=HashingEmbeddingConfig()))
    yield m
    await m.aclose()


def _calls(*calls: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    return {"messages": [AIMessage(content="", tool_calls=[
        {"name": name, "args": args, "id": f"c{i}"} for i, (name, args) in enumerate(calls)])]}


def _tool_graph(tools: list[Any], **kwargs: Any) -> Any:
    return StateGraph(MessagesState, **kwargs).add_node("tools", ToolNode(tools)).add_edge(START, "tools").compile()


def _contents(mem: Memory, scope: Scope) -> list[str]:
    return sorted(n.content for n in mem.list(scope))


# -- no user known: a clear error, nothing written to a shared scope --------------------------------
def test_tools_without_a_user_raise_and_write_nothing(memory: Memory) -> None:
    remember_memory = make_memory_tools(memory)[0]
    with pytest.raises(ConfigurationError, match="no user for this memory call"):
        remember_memory.invoke({"content": "Ivy is allergic to cats"})
    with pytest.raises(ConfigurationError, match="no user"):
        _tool_graph(make_memory_tools(memory)).invoke(_calls(("remember_memory", {"content": "Ivy sings"})))
    assert memory.list(Scope()) == []


def test_nodes_without_a_user_raise_and_write_nothing(memory: Memory) -> None:
    graph: Any = StateGraph(MemoryState).add_node("remember", make_remember(memory)).add_edge(START, "remember").compile()
    with pytest.raises(ConfigurationError, match="no user"):
        graph.invoke({"messages": [HumanMessage("I keep bees on the roof")]})
    with pytest.raises(ConfigurationError, match="no user"):
        graph.invoke({"messages": [HumanMessage("I keep bees on the roof")]}, {"configurable": {"thread_id": "t"}})
    assert memory.list(Scope()) == []


# -- the run context (LangGraph v1) names the user ---------------------------------------------------
def test_bound_tools_and_nodes_read_the_user_from_the_run_context(memory: Memory) -> None:
    graph: Any = _tool_graph(make_memory_tools(memory), context_schema=Ctx)
    graph.invoke(_calls(("remember_memory", {"content": "Gina sails a small dinghy"})), context=Ctx("gina"))
    assert _contents(memory, Scope(user_id="gina")) == ["Gina sails a small dinghy"]
    out = graph.invoke(_calls(("search_memory", {"query": "dinghy"})), context=Ctx("gina"))
    assert "Gina sails" in out["messages"][-1].content
    out = graph.invoke(_calls(("search_memory", {"query": "dinghy"})), context=Ctx("hugo"))
    assert out["messages"][-1].content == "No memories found."  # another user, another scope
    nodes: Any = (StateGraph(MemoryState, context_schema=Ctx).add_node("remember", make_remember(memory))
             .add_node("recall", make_recall(memory)).add_edge(START, "remember").add_edge("remember", "recall")
             .compile())
    out = nodes.invoke({"messages": [("user", "Hugo restores old clocks")]}, context=Ctx("hugo"))
    assert [m["content"] for m in out["memories"]] == ["Hugo restores old clocks"]
    assert memory.list(Scope()) == []


# -- AsyncMemory: async nodes and tools ----------------------------------------------------------------
async def test_async_memory_works_in_async_nodes_and_tools(amemory: AsyncMemory) -> None:
    hana: RunnableConfig = {"configurable": {"user_id": "hana"}}
    graph: Any = (StateGraph(MemoryState).add_node("remember", make_remember(amemory))
             .add_node("recall", make_recall(amemory)).add_edge(START, "remember").add_edge("remember", "recall")
             .compile())
    out = await graph.ainvoke({"messages": [("user", "Hana plays the cello in a quartet")]}, hana)
    assert [m["content"] for m in out["memories"]] == ["Hana plays the cello in a quartet"]
    tools = _tool_graph(make_memory_tools(amemory))
    await tools.ainvoke(_calls(("remember_memory", {"content": "Hana grows figs on her balcony"})), hana)
    out = await tools.ainvoke(_calls(("search_memory", {"query": "figs balcony", "k": 1})), hana)
    msg = out["messages"][-1]
    assert "Hana grows figs" in msg.content and len(msg.artifact) == 1
    stored = sorted(n.content for n in await amemory.list(Scope(user_id="hana")))
    assert stored == ["Hana grows figs on her balcony", "Hana plays the cello in a quartet"]
    with pytest.raises(ConfigurationError, match="ainvoke"):  # a sync run cannot drive an AsyncMemory
        make_memory_tools(amemory)[0].invoke({"content": "Hana bakes bread"}, hana)


# -- a memory error is a tool message, not the end of the run -----------------------------------------
def test_a_memory_error_goes_back_to_the_model(memory: Memory) -> None:
    cfg: RunnableConfig = {"configurable": {"user_id": "jo"}}
    out = _tool_graph(make_memory_tools(memory)).invoke(_calls(
        ("remember_memory", {"content": "bad \x00 byte"}),
        ("forget_memory", {"note_id": "0" * 32}),
        ("remember_memory", {"content": "Jo speaks Basque"})), cfg)
    bad, missing, good = out["messages"][1:]
    assert isinstance(bad, ToolMessage) and bad.status == "error" and "InvalidContent" in bad.content
    assert missing.status == "error" and "NoteNotFound" in missing.content
    assert good.status == "success" and good.content.startswith("Remembered")
    assert _contents(memory, Scope(user_id="jo")) == ["Jo speaks Basque"]


# -- greetings, questions and repeats are not memories ---------------------------------------------------
@pytest.mark.parametrize(("text", "skipped"), [
    ("hi!", True), ("Hello there :)", True), ("ok thanks", True), ("Good morning!", True),
    ("What do you know about Biscuit the beagle?", True), ("where do I live? and what do I do?", True),
    ("I moved to Lisbon. Any good cafés?", False), ("Thanks, I start my new job at Acme on Monday.", False),
    ("no", True), ("I have no pets", False),
])
def test_skip_reason(text: str, skipped: bool) -> None:
    assert (skip_reason(text) is not None) is skipped


def test_remember_skips_greetings_questions_and_repeats(memory: Memory) -> None:
    graph: Any = (StateGraph(MemoryState).add_node("recall", recall).add_node("remember", remember)
             .add_edge(START, "recall").add_edge("recall", "remember").add_edge("remember", END)
             .compile(store=ZettelStore(memory=memory)))
    kim: RunnableConfig = {"configurable": {"user_id": "kim"}}
    for text in ["hi!", "I adopted a beagle named Biscuit", "What do you know about Biscuit?",
                 "I adopted a  beagle named biscuit", "thanks!"]:
        graph.invoke({"messages": [HumanMessage(text)]}, kim)
    assert _contents(memory, Scope(user_id="kim")) == ["I adopted a beagle named Biscuit"]
    remember_memory = make_memory_tools(memory)[0]
    assert remember_memory.invoke({"content": "I adopted a beagle named Biscuit"}, kim).startswith("Not stored")
    assert remember_memory.invoke({"content": "Is it raining?"}, kim) == "Not stored: it is a question, not a fact."
    everything = make_remember(memory, skip=None)
    plain: Any = StateGraph(MemoryState).add_node("r", everything).add_edge(START, "r").compile()
    plain.invoke({"messages": [HumanMessage("hi!")]}, kim)
    assert "hi!" in _contents(memory, Scope(user_id="kim"))


# -- update, forget, k ---------------------------------------------------------------------------------------
def test_tools_update_forget_and_k(memory: Memory) -> None:
    remember_memory, search_memory, update_memory, forget_memory = make_memory_tools(memory, k=5)
    lee: RunnableConfig = {"configurable": {"user_id": "lee"}}
    for text in ["Lee climbs in Sintra", "Lee climbs indoors on Tuesdays", "Lee climbed Half Dome in 2019"]:
        remember_memory.invoke({"content": text}, lee)
    call: dict[str, Any] = {"type": "tool_call", "name": "search_memory", "id": "s", "args": {"query": "climbs", "k": 2}}
    assert len(search_memory.invoke(call, lee).artifact) == 2
    call["args"] = {"query": "climbs"}
    hits = search_memory.invoke(call, lee).artifact
    assert len(hits) == 3
    target = hits[0]["id"]
    assert "version 2" in update_memory.invoke({"note_id": target, "tags": ["climbing"]}, lee)
    assert memory.get(target, Scope(user_id="lee")).tags == ["climbing"]
    said = forget_memory.invoke({"note_id": target}, lee)
    assert said.startswith(f"Forgot {target}") and hits[0]["content"] in said
    assert len(memory.list(Scope(user_id="lee"))) == 2
    msg = search_memory.invoke({**call, "args": {"query": "climbs", "k": 99}}, lee)
    assert msg.status == "error" and "between 1 and 50" in msg.content


# -- ZettelStore items and the tools: one documented mapping ---------------------------------------------------
def test_store_items_and_tools_share_memories_through_namespace_scope(memory: Memory) -> None:
    store = ZettelStore(memory=memory, index={"dims": 256, "fields": ["text"]})
    store.put(("memories", "mia"), "k1", {"text": "Mia is vegetarian"})
    tools = make_memory_tools(memory, scope=namespace_scope(("memories", "mia")))
    out = tools[1].invoke({"query": "vegetarian"}, {})
    assert "Mia is vegetarian" in out
    tools[0].invoke({"content": "Mia runs a bakery"}, {})
    assert {n.content for n in memory.list(namespace_scope(("memories", "mia")))} == {
        "Mia is vegetarian", "Mia runs a bakery"}
    store.close()
