"""Shared by nodes and tools: which Memory, which user, which message, how to show a hit.

The user comes from ``config["configurable"]["user_id"]`` (or ``langgraph_user_id``),
else from the run context (``graph.invoke(..., context=Ctx(user_id=...))``, LangGraph
v1), unless a fixed scope is bound. With none of these a call raises
:class:`~zettelmem.errors.ConfigurationError`: it never falls back to a scope shared
by every user. Both a sync :class:`~zettelmem.Memory` and an
:class:`~zettelmem.AsyncMemory` work: :func:`acall` awaits the async one and runs the
sync one in a worker thread; :func:`call` runs the sync one and refuses the async
one (it needs ``ainvoke``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from zettelmem.engine.core import AsyncMemory
from zettelmem.errors import ConfigurationError
from zettelmem.models import Scope

if TYPE_CHECKING:
    from zettelmem.engine.results import SearchHit
    from zettelmem.engine.sync import Memory

__all__ = [
    "AnyMemory",
    "acall",
    "call",
    "hit_record",
    "last_human_text",
    "render_hits",
    "resolve_memory",
    "resolve_scope",
    "run_context",
]

_USER_KEYS = ("user_id", "langgraph_user_id")
_RUNTIME_KEY = "__pregel_runtime"  # where LangGraph puts the run's Runtime in a node's/tool's config
AnyMemory = Any  # Memory | AsyncMemory (kept loose: the sync facade's methods are generated)
NO_USER = (
    "no user for this memory call: pass config={'configurable': {'user_id': ...}}, run the graph with "
    "context=... carrying user_id, or bind scope=Scope(...); zettelmem never writes to a scope shared by all users"
)


def run_context(config: Mapping[str, Any] | None) -> tuple[Any, Any]:
    """The run's ``(context, store)`` from a node's or tool's config (``(None, None)`` outside a graph)."""
    runtime = ((config or {}).get("configurable") or {}).get(_RUNTIME_KEY)
    return getattr(runtime, "context", None), getattr(runtime, "store", None)


def call(mem: AnyMemory, method: str, *args: Any, **kwargs: Any) -> Any:
    """Call a sync Memory's method; an AsyncMemory needs the async path (``ainvoke``)."""
    if isinstance(mem, AsyncMemory):
        raise ConfigurationError(
            f"this node/tool has an AsyncMemory: run it with ainvoke/astream (it cannot {method} synchronously), "
            "or give it a sync zettelmem.Memory"
        )
    return getattr(mem, method)(*args, **kwargs)


async def acall(mem: AnyMemory, method: str, *args: Any, **kwargs: Any) -> Any:
    """Await an AsyncMemory's method, or run a sync Memory's in a worker thread."""
    if isinstance(mem, AsyncMemory):
        return await getattr(mem, method)(*args, **kwargs)
    return await asyncio.to_thread(getattr(mem, method), *args, **kwargs)


def _get(obj: Any, name: str) -> Any:
    if obj is None:
        return None
    if isinstance(obj, Mapping):
        return obj.get(name)
    return getattr(obj, name, None)


def resolve_memory(bound: Memory | AsyncMemory | None, context: Any = None, store: Any = None) -> AnyMemory:
    """The bound Memory, else ``context.memory``, else the graph store's (a ZettelStore)."""
    if bound is not None:
        return bound
    from_context = _get(context, "memory")
    if from_context is not None:
        return from_context
    from zettelmem.langgraph.store import ZettelStore

    if isinstance(store, ZettelStore):
        return store.memory
    raise ConfigurationError(
        "no zettelmem Memory for this node/tool: bind one (make_remember(memory), make_memory_tools(memory)), "
        "put it in the run context as `memory`, or compile the graph with store=ZettelStore(...)"
    )


def resolve_scope(fixed: Scope | None, config: Mapping[str, Any] | None, context: Any = None) -> Scope:
    """A fixed scope, else ``Scope(user_id=...)`` from ``config["configurable"]`` or the run context.

    Raises:
        ConfigurationError: no user is known (nothing is written to a shared scope).
    """
    if fixed is not None:
        return fixed
    configurable = (config or {}).get("configurable") or {}
    for key in _USER_KEYS:
        value = configurable.get(key) or _get(context, key)
        if value:
            return Scope(user_id=str(value))
    raise ConfigurationError(NO_USER)


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence):
        parts = []
        for block in content:
            if isinstance(block, str):
                parts.append(block)
            elif isinstance(block, Mapping) and block.get("type") == "text":
                parts.append(str(block.get("text", "")))
        return "\n".join(p for p in parts if p)
    return ""


def _role(msg: Any) -> str | None:
    if isinstance(msg, tuple | list) and len(msg) == 2:
        return str(msg[0])
    if isinstance(msg, Mapping):
        return str(msg.get("role") or msg.get("type") or "")
    return getattr(msg, "type", None)


def _content(msg: Any) -> Any:
    if isinstance(msg, tuple | list) and len(msg) == 2:
        return msg[1]
    return _get(msg, "content")


def last_human_text(messages: Any) -> tuple[str, str | None]:
    """Text and id of the last human/user message (``("", None)`` when there is none)."""
    for msg in reversed(list(messages or [])):
        if _role(msg) in ("human", "user"):
            return _text(_content(msg)).strip(), _get(msg, "id") if not isinstance(msg, tuple) else None
    return "", None


def hit_record(hit: SearchHit) -> dict[str, Any]:
    """A search hit as plain JSON-able data, with its reasons."""
    note = hit.note
    return {
        "id": note.id,
        "content": note.content,
        "score": hit.score,
        "why": hit.explain(),
        "reasons": [r.model_dump(mode="json") for r in hit.why],
        "context": note.context,
        "keywords": list(note.keywords),
        "tags": list(note.tags),
        "memory_type": note.memory_type.value,
        "event_time": note.event_time.isoformat() if note.event_time else None,
        "version": note.version,
    }


def render_hits(hits: Sequence[SearchHit]) -> str:
    """Hits as numbered lines for a model: content, then why it was found."""
    if not hits:
        return "No memories found."
    return "\n".join(f"{i}. {h.note.content} (why: {h.explain()}; id {h.note.id[:8]})"
                     for i, h in enumerate(hits, 1))
