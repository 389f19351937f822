"""Ready graph nodes: ``remember`` the user's last message, ``recall`` related memories.

Both take the graph state (a ``messages`` list) and the run's config. They find their
memory in this order: the one bound with :func:`make_remember` / :func:`make_recall`
(a :class:`~zettelmem.Memory` or an :class:`~zettelmem.AsyncMemory`); the run
context's ``memory``; the graph's store when it is a
:class:`~zettelmem.langgraph.ZettelStore` (``store.memory``). The scope is
``Scope(user_id=config["configurable"]["user_id"])`` (or ``langgraph_user_id``, or the
run context's ``user_id``), unless a fixed scope is bound; with no user they raise
:class:`~zettelmem.errors.ConfigurationError` rather than write to a shared scope.

Each node runs under ``invoke`` and ``ainvoke`` (an AsyncMemory needs ``ainvoke``).
``remember`` skips greetings, bare questions and exact repeats
(:mod:`zettelmem.langgraph._filter`; ``skip=None`` stores every message).

Example:
    >>> builder = StateGraph(MemoryState)                            # doctest: +SKIP
    >>> builder.add_node("recall", recall).add_node("remember", remember)  # doctest: +SKIP
    >>> graph = builder.compile(store=ZettelStore(memory=mem))       # doctest: +SKIP
    >>> graph.invoke({"messages": [("user", "I moved to Lisbon")]},
    ...              {"configurable": {"user_id": "alice"}})         # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from langchain_core.runnables import RunnableConfig, RunnableLambda
from langgraph.graph import MessagesState

from zettelmem.langgraph._filter import same_text, skip_reason
from zettelmem.langgraph._runtime import (
    acall,
    call,
    hit_record,
    last_human_text,
    resolve_memory,
    resolve_scope,
    run_context,
)
from zettelmem.models import Provenance, Scope

if TYPE_CHECKING:
    from zettelmem.engine.core import AsyncMemory
    from zettelmem.engine.sync import Memory

__all__ = ["MemoryState", "make_recall", "make_remember", "recall", "remember"]

Node = RunnableLambda[Any, dict[str, Any]]
Skip = Callable[[str], str | None]


class MemoryState(MessagesState):
    """``MessagesState`` plus ``memories``: what :func:`recall` found, with reasons."""

    memories: list[dict[str, Any]]


def _parts(state: Any, key: str) -> Any:
    return state.get(key) if isinstance(state, dict) else getattr(state, key, None)


def make_remember(memory: Memory | AsyncMemory | None = None, *, scope: Scope | None = None,
                  messages_key: str = "messages", skip: Skip | None = skip_reason) -> Node:
    """A node that adds the last human message to the memory graph (it returns no update).

    Args:
        memory: a bound Memory or AsyncMemory (default: found in the run).
        scope: a fixed scope (default: the run's user).
        messages_key: the state key of the messages.
        skip: says why a text is not a memory (default: greetings and bare questions);
            ``None`` stores every message. Exact repeats of a stored memory are skipped either way.
    """

    def _plan(state: Any, config: RunnableConfig) -> tuple[Any, Scope, str, dict[str, Any]] | None:
        text, msg_id = last_human_text(_parts(state, messages_key))
        context, store = run_context(config)
        mem = resolve_memory(memory, context, store)
        if not text or (skip is not None and skip(text)):
            resolve_scope(scope, config, context)  # no user is an error even when nothing is stored
            return None
        where = resolve_scope(scope, config, context)
        thread = ((config or {}).get("configurable") or {}).get("thread_id")
        prov = Provenance(source=msg_id, session=str(thread) if thread else None, speaker="user")
        return mem, where, text, {"provenance": prov}

    def remember(state: Any, config: RunnableConfig) -> dict[str, Any]:
        plan = _plan(state, config)
        if plan is not None:
            mem, where, text, fields = plan
            if not any(same_text(h.note.content, text) for h in call(mem, "search", text, where, k=3)):
                call(mem, "add", text, where, **fields)
        return {}

    async def aremember(state: Any, config: RunnableConfig) -> dict[str, Any]:
        plan = _plan(state, config)
        if plan is not None:
            mem, where, text, fields = plan
            if not any(same_text(h.note.content, text) for h in await acall(mem, "search", text, where, k=3)):
                await acall(mem, "add", text, where, **fields)
        return {}

    return RunnableLambda(remember, afunc=aremember, name="remember")


def make_recall(memory: Memory | AsyncMemory | None = None, *, scope: Scope | None = None, k: int = 5,
                messages_key: str = "messages", output_key: str = "memories") -> Node:
    """A node that searches with ``state["query"]`` or the last human message; hits and reasons go
    under ``output_key``."""

    def _plan(state: Any, config: RunnableConfig) -> tuple[Any, Scope, str] | None:
        query = _parts(state, "query")
        if not isinstance(query, str) or not query.strip():
            query, _ = last_human_text(_parts(state, messages_key))
        if not query:
            return None
        context, store = run_context(config)
        return resolve_memory(memory, context, store), resolve_scope(scope, config, context), query

    def recall(state: Any, config: RunnableConfig) -> dict[str, Any]:
        plan = _plan(state, config)
        if plan is None:
            return {output_key: []}
        mem, where, query = plan
        return {output_key: [hit_record(h) for h in call(mem, "search", query, where, k=k)]}

    async def arecall(state: Any, config: RunnableConfig) -> dict[str, Any]:
        plan = _plan(state, config)
        if plan is None:
            return {output_key: []}
        mem, where, query = plan
        return {output_key: [hit_record(h) for h in await acall(mem, "search", query, where, k=k)]}

    return RunnableLambda(recall, afunc=arecall, name="recall")


remember = make_remember()
recall = make_recall()
