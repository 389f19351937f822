"""ZettelStore beyond LangGraph's own suite: durability, scopes, notes, nodes and tools.

LangGraph's upstream store tests run against ZettelStore in test_langgraph_conformance.py.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from langchain_core.embeddings import Embeddings
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode
from langgraph.store.base import GetOp, InvalidNamespaceError, PutOp, SearchOp

from zettelmem import InvalidInput, Memory, Scope, Settings
from zettelmem.config import HashingEmbeddingConfig
from zettelmem.langgraph import (
    MemoryState,
    ZettelStore,
    make_memory_tools,
    namespace_scope,
    recall,
    remember,
    scope_namespace,
)

ROOT = Path(__file__).resolve().parents[1]


class Letters(Embeddings):
    """Deterministic 26-dim letter counts: cosine similarity is easy to predict."""

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self.embed_query(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        v = [0.0] * 26
        for ch in text.lower():
            if "a" <= ch <= "z":
                v[ord(ch) - 97] += 1.0
        return v


INDEX: Any = {"dims": 26, "embed": Letters(), "fields": ["text"]}


@pytest.fixture
def memory(tmp_path: Path) -> Any:
    m = Memory(Settings(home=tmp_path / "home", embedding=HashingEmbeddingConfig()))
    yield m
    m.close()


# -- durability --------------------------------------------------------------------------
def test_items_vectors_and_timestamps_survive_reopen(tmp_path: Path) -> None:
    with ZettelStore(tmp_path, index=INDEX) as store:
        store.put(("docs", "u1"), "a", {"text": "apple pie", "n": 1})
        store.put(("docs", "u1"), "b", {"text": "zzz qqq", "n": 2})
        store.put(("docs", "u2"), "c", {"text": "apple", "n": 3}, index=False)
        first = store.get(("docs", "u1"), "a")
        store.put(("docs", "u1"), "a", {"text": "apple tart", "n": 4})
        before = store.search(("docs",), query="apple tart")
    assert (tmp_path / "langgraph.sqlite").exists()
    with ZettelStore(tmp_path, index=INDEX) as store:
        again = store.get(("docs", "u1"), "a")
        assert again is not None and again.value == {"text": "apple tart", "n": 4}
        assert first is not None and again.created_at == first.created_at and again.updated_at > first.updated_at
        after = store.search(("docs",), query="apple tart")
        assert [(r.key, r.score) for r in after] == [(r.key, r.score) for r in before]
        assert after[0].key == "a" and after[0].score == pytest.approx(1.0)
        assert after[-1].key == "c" and after[-1].score is None  # index=False: listed after scored items
        assert store.list_namespaces() == [("docs", "u1"), ("docs", "u2")]
        # most recently updated first, without a query
        assert [r.key for r in store.search(("docs",))] == ["a", "c", "b"]


WRITER = textwrap.dedent(
    """
    import sys
    from zettelmem.langgraph import ZettelStore
    store = ZettelStore(sys.argv[1])
    i = 0
    while True:
        store.put(("crash", str(i % 3)), f"k{i}", {"i": i})
        print(i, flush=True)   # acknowledged: put() returned
        i += 1
    """
)


def test_kill_minus_9_loses_no_acknowledged_put(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path)], stdout=subprocess.PIPE, text=True, env=env)
    acked: list[int] = []
    deadline = time.monotonic() + 60
    assert proc.stdout is not None
    while len(acked) < 300 and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        acked.append(int(line))
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    assert len(acked) >= 300, "writer did not get going"
    with ZettelStore(tmp_path) as store:
        for i in acked:
            item = store.get(("crash", str(i % 3)), f"k{i}")
            assert item is not None and item.value == {"i": i}


# -- contract details ---------------------------------------------------------------------
def test_batch_is_validated_whole_and_reads_precede_writes(tmp_path: Path) -> None:
    with ZettelStore(tmp_path) as store:
        store.put(("a",), "k", {"v": 1})
        with pytest.raises(InvalidNamespaceError):
            store.batch([PutOp(("a",), "k", {"v": 2}), GetOp(("a.b",), "k")])
        with pytest.raises(InvalidInput):  # not JSON: nothing of the batch is written
            store.batch([PutOp(("a",), "k", {"v": 3}), PutOp(("a",), "bad", {"v": object()})])
        results: list[Any] = store.batch([GetOp(("a",), "k"), PutOp(("a",), "k", {"v": 4}),
                                          SearchOp(["a"])])  # type: ignore[arg-type]  # a list prefix is read as the tuple
        got, _, found = results
        assert got is not None and got.value == {"v": 1}  # the batch's reads see the state before its writes
        assert [i.value for i in found] == [{"v": 1}]
        assert store.get(("a",), "k").value == {"v": 4}  # type: ignore[union-attr]


def test_filters_are_json_typed_and_never_raise(tmp_path: Path) -> None:
    with ZettelStore(tmp_path) as store:
        store.put(("f",), "t", {"flag": True, "n": 5, "user": {"level": "admin"}})
        store.put(("f",), "one", {"flag": 1, "n": "5"})
        store.put(("f",), "none", {"flag": None})

        def keys(flt: dict[str, Any]) -> set[str]:
            return {i.key for i in store.search(("f",), filter=flt)}

        assert keys({"flag": True}) == {"t"} and keys({"flag": 1}) == {"one"}
        assert keys({"n": {"$gt": 4}}) == {"t"}  # "5" is a string; missing n does not raise
        assert keys({"n": {"$ne": 5}}) == {"one", "none"}
        assert keys({"user.level": "admin"}) == {"t"} and keys({"user": {"level": "admin"}}) == {"t"}
        with pytest.raises(ValueError):
            store.search(("f",), filter={"n": {"$regex": "x"}})


def test_vector_pages_do_not_repeat_unscored_items(tmp_path: Path) -> None:
    with ZettelStore(tmp_path, index=INDEX) as store:
        store.put(("p",), "s1", {"text": "abc"})
        store.put(("p",), "s2", {"text": "xyz"})
        for i in range(3):
            store.put(("p",), f"u{i}", {"text": "abc"}, index=False)
        pages = [store.search(("p",), query="abc", limit=2, offset=o) for o in (0, 2, 4)]
        keys = [i.key for page in pages for i in page]
        assert keys[:2] == ["s1", "s2"] and sorted(keys[2:]) == ["u0", "u1", "u2"]
        assert [i.score is None for page in pages for i in page] == [False, False, True, True, True]
        # "$" in a per-put index list embeds the whole document
        store.put(("p",), "whole", {"other": "qqq"}, index=["$"])
        assert store.search(("p",), query="qqq other", limit=1)[0].key == "whole"


def test_reindex_swaps_vectors_only(tmp_path: Path) -> None:
    with ZettelStore(tmp_path) as store:  # written without any index
        store.put(("r",), "a", {"text": "hello"})
        stamp = store.get(("r",), "a")
    with ZettelStore(tmp_path, index=INDEX) as store:
        assert store.search(("r",), query="hello")[0].score is None
        assert store.reindex() == 1
        hit = store.search(("r",), query="hello")[0]
        assert hit.score == pytest.approx(1.0) and hit.updated_at == stamp.updated_at  # type: ignore[union-attr]


# -- scopes --------------------------------------------------------------------------------
@pytest.mark.parametrize("pair", [
    (("foo",), ("foobar",)), (("Foo",), ("foo",)), (("a", "b"), ("a%2Eb",)), (("a", "b"), ("a%2E", "b")),
    (("x\x1f",), ("x%1F",)), (("u", "alice"), ("u", "alice\n")),
], ids=["prefix", "case", "dot-escape", "percent", "unit-separator", "newline"])
def test_namespace_scopes_are_distinct_and_reversible(pair: tuple[tuple[str, ...], ...]) -> None:
    s1, s2 = (namespace_scope(ns) for ns in pair)
    assert s1 != s2 and s1.key != s2.key
    assert [scope_namespace(s1), scope_namespace(s2)] == list(pair)
    assert all(Scope.from_key(s.key) == s for s in (s1, s2))  # no stray "\x1f" in the scope key
    long = namespace_scope(("x" * 300,))
    assert long.namespace.startswith("sha256:") and scope_namespace(long) is None
    with pytest.raises(InvalidNamespaceError):
        namespace_scope(("a.b",))


# -- notes -----------------------------------------------------------------------------------
def test_indexed_puts_become_notes_in_their_namespace_scope(memory: Any) -> None:
    store = ZettelStore(memory=memory, index=INDEX)
    assert store.notes and store.home == memory.settings.home
    store.put(("mem", "foo"), "tea", {"text": "Alice drinks green tea every morning"})
    store.put(("mem", "foobar"), "tea", {"text": "Bob drinks black tea at night"})
    store.put(("mem", "foo"), "quiet", {"text": "not a note"}, index=False)
    note = store.note_for(("mem", "foo"), "tea")
    assert note is not None and note.content == "Alice drinks green tea every morning"
    assert note.scope == namespace_scope(("mem", "foo")) and note.keywords
    assert note.metadata["langgraph"] == {"namespace": ["mem", "foo"], "key": "tea"}
    assert store.note_for(("mem", "foo"), "quiet") is None
    hits = store.search_notes(("mem", "foo"), "green tea")
    assert [h.note.id for h in hits] == [note.id] and hits[0].explain()  # no leak from ("mem", "foobar")
    # an unchanged text keeps its note; a new text replaces it; a delete removes it
    store.put(("mem", "foo"), "tea", {"text": "Alice drinks green tea every morning", "extra": 1})
    assert store.note_for(("mem", "foo"), "tea").id == note.id  # type: ignore[union-attr]
    store.put(("mem", "foo"), "tea", {"text": "Alice switched to coffee"})
    newer = store.note_for(("mem", "foo"), "tea")
    assert newer is not None and newer.id != note.id and newer.content == "Alice switched to coffee"
    assert [n.id for n in memory.list(namespace_scope(("mem", "foo")))] == [newer.id]
    store.delete(("mem", "foo"), "tea")
    assert memory.list(namespace_scope(("mem", "foo"))) == []
    assert len(memory.list(namespace_scope(("mem", "foobar")))) == 1
    store.close()


async def test_async_puts_build_notes_too(memory: Any) -> None:
    store = ZettelStore(memory=memory)  # no index config: the whole document's strings make the note
    await store.aput(("a",), "k", {"content": "Carol plays the cello", "n": 3})
    note = store.note_for(("a",), "k")
    assert note is not None and note.content == "Carol plays the cello"
    store.close()


def test_outbox_rebuilds_notes_after_a_crash(memory: Any) -> None:
    store = ZettelStore(memory=memory)
    assert store._sync is not None
    store._sync.drain = lambda: 0  # type: ignore[method-assign]  # "crash" after the item's commit
    store.put(("c",), "k", {"content": "Dana keeps bees"})
    store.close()
    assert memory.list(namespace_scope(("c",))) == []
    reopened = ZettelStore(memory=memory)  # the open drains what the crash left
    note = reopened.note_for(("c",), "k")
    assert note is not None and note.content == "Dana keeps bees"
    reopened.close()


# -- nodes and tools -------------------------------------------------------------------------
def test_remember_and_recall_nodes_in_a_compiled_graph(memory: Any) -> None:
    def respond(state: MemoryState) -> dict[str, Any]:
        found = "; ".join(m["content"] for m in state.get("memories", []))
        return {"messages": [AIMessage(content=f"I recall: {found}" if found else "Nice to meet you.")]}

    builder = StateGraph(MemoryState)
    builder.add_node("recall", recall)
    builder.add_node("respond", respond)
    builder.add_node("remember", remember)
    builder.add_edge(START, "recall")
    builder.add_edge("recall", "respond")
    builder.add_edge("respond", "remember")
    builder.add_edge("remember", END)
    store = ZettelStore(memory=memory)
    graph: Any = builder.compile(store=store)

    alice: RunnableConfig = {"configurable": {"user_id": "alice", "thread_id": "t1"}}
    out = graph.invoke({"messages": [HumanMessage("I adopted a beagle named Biscuit")]}, alice)
    assert out["memories"] == [] and out["messages"][-1].content == "Nice to meet you."
    stored = memory.list(Scope(user_id="alice"))
    assert [n.content for n in stored] == ["I adopted a beagle named Biscuit"]
    assert stored[0].provenance.session == "t1"

    out = graph.invoke({"messages": [HumanMessage("What do you know about Biscuit the beagle?")]}, alice)
    first = out["memories"][0]
    assert first["content"] == "I adopted a beagle named Biscuit" and first["why"] and first["reasons"]
    assert "Biscuit" in out["messages"][-1].content
    bob = graph.invoke({"messages": [HumanMessage("What do you know about Biscuit the beagle?")]},
                       {"configurable": {"user_id": "bob"}})
    assert bob["memories"] == []  # scopes are per user
    store.close()


def test_nodes_take_memory_and_user_from_the_run_context(memory: Any) -> None:
    @dataclass
    class Ctx:
        memory: Any
        user_id: str

    graph: Any = (StateGraph(MemoryState, context_schema=Ctx).add_node("remember", remember).add_node("recall", recall)
             .add_edge(START, "remember").add_edge("remember", "recall").compile())  # no store at all
    out = graph.invoke({"messages": [("user", "Frank collects vinyl records")]}, context=Ctx(memory, "frank"))
    assert [m["content"] for m in out["memories"]] == ["Frank collects vinyl records"]
    assert [n.content for n in memory.list(Scope(user_id="frank"))] == ["Frank collects vinyl records"]


def test_bound_memory_tools_work_outside_a_graph(memory: Any) -> None:
    remember_memory, search_memory, update_memory, forget_memory = make_memory_tools(memory)
    assert set(remember_memory.args) == {"content"} and set(search_memory.args) == {"query", "k"}
    assert set(update_memory.args) == {"note_id", "tags", "context", "memory_type"}
    assert set(forget_memory.args) == {"note_id"}
    cfg: RunnableConfig = {"configurable": {"user_id": "carol"}}
    assert remember_memory.invoke({"content": "Carol is allergic to peanuts"}, cfg).startswith("Remembered")
    msg = search_memory.invoke({"type": "tool_call", "name": "search_memory", "id": "c1",
                                "args": {"query": "peanuts allergy"}}, cfg)
    assert isinstance(msg, ToolMessage) and "allergic to peanuts" in msg.content and "why:" in msg.content
    assert msg.artifact[0]["content"] == "Carol is allergic to peanuts" and msg.artifact[0]["reasons"]
    assert memory.list(Scope(user_id="dave")) == []


def test_tools_find_the_memory_through_the_graph_store(memory: Any) -> None:
    tools = make_memory_tools()
    store = ZettelStore(memory=memory)
    graph: Any = (StateGraph(MessagesState).add_node("tools", ToolNode(tools)).add_edge(START, "tools")
                  .compile(store=store))
    cfg: RunnableConfig = {"configurable": {"user_id": "erin"}}
    calls = [{"name": "remember_memory", "args": {"content": "Erin runs marathons"}, "id": "r1"}]
    graph.invoke({"messages": [AIMessage(content="", tool_calls=calls)]}, cfg)
    calls = [{"name": "search_memory", "args": {"query": "marathons"}, "id": "s1"}]
    out = graph.invoke({"messages": [AIMessage(content="", tool_calls=calls)]}, cfg)
    msg = out["messages"][-1]
    assert isinstance(msg, ToolMessage) and "Erin runs marathons" in msg.content
    assert [n.content for n in memory.list(Scope(user_id="erin"))] == ["Erin runs marathons"]
    store.close()
