"""Ready graph nodes: ``remember`` the user's last message, ``recall`` related memories.

Both take the graph state (a ``messages`` list), the run's ``config`` and ``runtime``.
They find their :class:`~zettelmem.Memory` in this order: the one bound with
:func:`make_remember` / :func:`make_recall`; ``runtime.context.memory``; the graph's
store when it is a :class:`~zettelmem.langgraph.ZettelStore` (``store.memory``). The
scope is ``Scope(user_id=config["configurable"]["user_id"])`` (or ``langgraph_user_id``,
or ``runtime.context.user_id``), unless a fixed scope is bound.

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

from langchain_core.runnables import RunnableConfig
from langgraph.graph import MessagesState
from langgraph.runtime import Runtime

from zettelmem.langgraph._runtime import hit_record, last_human_text, resolve_memory, resolve_scope
from zettelmem.models import Provenance, Scope

if TYPE_CHECKING:
    from zettelmem.engine.sync import Memory

__all__ = ["MemoryState", "make_recall", "make_remember", "recall", "remember"]

Node = Callable[..., dict[str, Any]]


class MemoryState(MessagesState):
    """``MessagesState`` plus ``memories``: what :func:`recall` found, with reasons."""

    memories: list[dict[str, Any]]


def _parts(state: Any, key: str) -> Any:
    return state.get(key) if isinstance(state, dict) else getattr(state, key, None)


def make_remember(memory: Memory | None = None, *, scope: Scope | None = None,
                  messages_key: str = "messages") -> Node:
    """A node that adds the last human message to the memory graph (it returns no update)."""

    def remember(state: Any, config: RunnableConfig, runtime: Runtime) -> dict[str, Any]:
        text, msg_id = last_human_text(_parts(state, messages_key))
        if not text:
            return {}
        mem = resolve_memory(memory, runtime.context, runtime.store)
        configurable = (config or {}).get("configurable") or {}
        thread = configurable.get("thread_id")
        mem.add(text, resolve_scope(scope, config, runtime.context),
                provenance=Provenance(source=msg_id, session=str(thread) if thread else None, speaker="user"))
        return {}

    return remember


def make_recall(memory: Memory | None = None, *, scope: Scope | None = None, k: int = 5,
                messages_key: str = "messages", output_key: str = "memories") -> Node:
    """A node that searches with the last human message; puts hits and reasons under ``output_key``."""

    def recall(state: Any, config: RunnableConfig, runtime: Runtime) -> dict[str, Any]:
        query = _parts(state, "query")
        if not isinstance(query, str) or not query.strip():
            query, _ = last_human_text(_parts(state, messages_key))
        if not query:
            return {output_key: []}
        mem = resolve_memory(memory, runtime.context, runtime.store)
        hits = mem.search(query, resolve_scope(scope, config, runtime.context), k=k)
        return {output_key: [hit_record(h) for h in hits]}

    return recall


remember = make_remember()
remember.__doc__ = "Add the last human message to the user's memory graph (a ready node)."
recall = make_recall()
recall.__doc__ = "Search the user's memory graph with the last human message into ``memories`` (a ready node)."
