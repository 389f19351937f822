"""Agent tools over a zettelmem Memory: ``remember_memory`` and ``search_memory``.

``make_memory_tools(memory)`` binds a Memory; the tools then also work outside a
graph (``tool.invoke({...})``) and read the user from ``config["configurable"]``.
``make_memory_tools()`` finds the Memory at call time through ``ToolRuntime``
(``runtime.context.memory``, or ``runtime.store`` when it is a ZettelStore), so they
must run inside a graph (``ToolNode``, ``create_agent``). Either way the model sees
only ``content`` / ``query``; ``search_memory`` returns readable lines for the model
and the hits (with reasons) as the tool message's ``artifact``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool, tool
from langgraph.prebuilt import ToolRuntime

from zettelmem.langgraph._runtime import hit_record, render_hits, resolve_memory, resolve_scope
from zettelmem.models import Provenance, Scope

if TYPE_CHECKING:
    from zettelmem.engine.sync import Memory

__all__ = ["make_memory_tools"]

_REMEMBER = (
    "Save a fact, preference or event about the user to long-term memory. "
    "Write it as one self-contained sentence."
)
_SEARCH = "Search long-term memory for facts about the user; each result says why it matched."


def _remember(mem: Memory, scope: Scope, content: str, call_id: str | None) -> str:
    result = mem.add(content, scope, provenance=Provenance(source=call_id, speaker="agent"))
    note = result.note
    links = ", ".join(f"{lk.relation.value} {lk.target[:8]}" for lk in result.links) or "none"
    return f"Remembered (id {note.id[:8]}; tags: {', '.join(note.tags) or '-'}; links: {links})."


def _search(mem: Memory, scope: Scope, query: str, k: int) -> tuple[str, list[dict[str, Any]]]:
    if not query.strip():
        return "The query is empty.", []
    hits = mem.search(query, scope, k=k)
    return render_hits(hits), [hit_record(h) for h in hits]


def make_memory_tools(memory: Memory | None = None, *, scope: Scope | None = None, k: int = 5) -> list[BaseTool]:
    """``[remember_memory, search_memory]`` for an agent.

    Args:
        memory: a bound Memory; ``None`` resolves it from the graph at call time.
        scope: a fixed scope; default ``Scope(user_id=configurable user_id)``.
        k: how many hits ``search_memory`` returns.
    """
    if memory is not None:
        bound = memory

        @tool("remember_memory", description=_REMEMBER)
        def remember_bound(content: str, config: RunnableConfig) -> str:
            return _remember(bound, resolve_scope(scope, config), content, None)

        @tool("search_memory", description=_SEARCH, response_format="content_and_artifact")
        def search_bound(query: str, config: RunnableConfig) -> tuple[str, list[dict[str, Any]]]:
            return _search(bound, resolve_scope(scope, config), query, k)

        return [remember_bound, search_bound]

    @tool("remember_memory", description=_REMEMBER)
    def remember_memory(content: str, runtime: ToolRuntime) -> str:
        mem = resolve_memory(None, runtime.context, runtime.store)
        return _remember(mem, resolve_scope(scope, runtime.config, runtime.context), content, runtime.tool_call_id)

    @tool("search_memory", description=_SEARCH, response_format="content_and_artifact")
    def search_memory(query: str, runtime: ToolRuntime) -> tuple[str, list[dict[str, Any]]]:
        mem = resolve_memory(None, runtime.context, runtime.store)
        return _search(mem, resolve_scope(scope, runtime.config, runtime.context), query, k)

    return [remember_memory, search_memory]
