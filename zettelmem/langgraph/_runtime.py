"""Shared by nodes and tools: which Memory, which user, which message, how to show a hit."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from zettelmem.errors import ConfigurationError
from zettelmem.models import Scope

if TYPE_CHECKING:
    from zettelmem.engine.results import SearchHit
    from zettelmem.engine.sync import Memory

__all__ = ["hit_record", "last_human_text", "render_hits", "resolve_memory", "resolve_scope"]

_USER_KEYS = ("user_id", "langgraph_user_id")


def _get(obj: Any, name: str) -> Any:
    if obj is None:
        return None
    if isinstance(obj, Mapping):
        return obj.get(name)
    return getattr(obj, name, None)


def resolve_memory(bound: Memory | None, context: Any = None, store: Any = None) -> Memory:
    """The bound Memory, else ``context.memory``, else the graph store's (a ZettelStore)."""
    if bound is not None:
        return bound
    from_context = _get(context, "memory")
    if from_context is not None:
        return from_context  # type: ignore[no-any-return]
    from zettelmem.langgraph.store import ZettelStore

    if isinstance(store, ZettelStore):
        return store.memory
    raise ConfigurationError(
        "no zettelmem Memory for this node/tool: bind one (make_remember(memory), make_memory_tools(memory)), "
        "put it in the run context as `memory`, or compile the graph with store=ZettelStore(...)"
    )


def resolve_scope(fixed: Scope | None, config: Mapping[str, Any] | None, context: Any = None) -> Scope:
    """A fixed scope, else ``Scope(user_id=...)`` from ``config["configurable"]`` or the run context."""
    if fixed is not None:
        return fixed
    configurable = (config or {}).get("configurable") or {}
    for key in _USER_KEYS:
        value = configurable.get(key) or _get(context, key)
        if value:
            return Scope(user_id=str(value))
    return Scope()


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
