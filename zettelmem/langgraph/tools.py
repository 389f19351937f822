"""Agent tools over a zettelmem memory: remember, search, update and forget.

``make_memory_tools(memory)`` binds a :class:`~zettelmem.Memory` or an
:class:`~zettelmem.AsyncMemory`; ``make_memory_tools()`` finds the memory at call time
in the run context (``context.memory``) or the graph's store (a ZettelStore). The user
is ``config["configurable"]["user_id"]`` or the run context's ``user_id`` (a fixed
``scope`` overrides both); with no user the tool raises
:class:`~zettelmem.errors.ConfigurationError` instead of writing to a shared scope.

Every tool has a sync and an async implementation (``invoke`` / ``ainvoke``; an
AsyncMemory needs ``ainvoke``). A :class:`~zettelmem.errors.ZettelmemError` from the
memory (empty content, unknown id, a store failure) comes back to the model as an
error tool message instead of ending the run. ``remember_memory`` skips greetings,
bare questions and exact repeats (:mod:`zettelmem.langgraph._filter`) and says so.
``search_memory`` returns readable lines for the model and the hits (with reasons)
as the tool message's ``artifact``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Literal

from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool, StructuredTool, ToolException

from zettelmem.engine.core import AsyncMemory
from zettelmem.errors import ConfigurationError, InvalidInput, ZettelmemError
from zettelmem.langgraph._filter import same_text, skip_reason
from zettelmem.langgraph._runtime import (
    AnyMemory,
    acall,
    call,
    hit_record,
    render_hits,
    resolve_memory,
    resolve_scope,
    run_context,
)
from zettelmem.models import MemoryType, Provenance, Scope

if TYPE_CHECKING:
    from zettelmem.engine.sync import Memory

__all__ = ["make_memory_tools"]

_REMEMBER = (
    "Save a fact, preference or event about the user to long-term memory. "
    "Write it as one self-contained sentence. Greetings, questions and exact repeats are not stored."
)
_SEARCH = "Search long-term memory for facts about the user; each result says why it matched and gives its id."
_UPDATE = "Correct a memory's tags or context (by the id search_memory gave); its text never changes."
_FORGET = "Delete one memory for good (by the id search_memory gave), e.g. when the user asks to forget it."
Kind = Literal["episodic", "semantic", "procedural", "core", "resource"]


def _target(bound: Memory | AsyncMemory | None, fixed: Scope | None, config: RunnableConfig | None,
            sync: bool = False) -> tuple[AnyMemory, Scope]:
    """The memory and scope of this call (configuration errors are raised, not sent to the model)."""
    context, store = run_context(config)
    mem = resolve_memory(bound, context, store)
    if sync and isinstance(mem, AsyncMemory):
        call(mem, "run")  # raises ConfigurationError: an AsyncMemory needs ainvoke
    return mem, resolve_scope(fixed, config, context)


def _model_error(exc: ZettelmemError) -> ToolException:
    message = " ".join(str(exc).split()) or type(exc).__name__
    return ToolException(f"memory error: {message} [{type(exc).__name__}]")


def _both(name: str, description: str, sync: Callable[..., Any], asyn: Callable[..., Awaitable[Any]],
          artifact: bool = False) -> BaseTool:
    return StructuredTool.from_function(
        func=sync, coroutine=asyn, name=name, description=description, handle_tool_error=True,
        response_format="content_and_artifact" if artifact else "content", parse_docstring=True,
    )


def make_memory_tools(memory: Memory | AsyncMemory | None = None, *, scope: Scope | None = None,
                      k: int = 5) -> list[BaseTool]:
    """``[remember_memory, search_memory, update_memory, forget_memory]`` for an agent.

    Args:
        memory: a bound Memory or AsyncMemory; ``None`` resolves it from the run at call time.
        scope: a fixed scope; default ``Scope(user_id=<the run's user>)``.
        k: how many hits ``search_memory`` returns when the model does not say.
    """

    # -- remember ---------------------------------------------------------------------------
    def _remember_msg(hits: list[Any], content: str) -> str | None:
        reason = skip_reason(content)
        if reason is None and any(same_text(h.note.content, content) for h in hits):
            reason = "it is already stored"
        return f"Not stored: {reason}." if reason else None

    def _remembered(result: Any) -> str:
        note = result.note
        links = ", ".join(f"{lk.relation.value} {lk.target[:8]}" for lk in result.links) or "none"
        return f"Remembered (id {note.id}; tags: {', '.join(note.tags) or '-'}; links: {links})."

    def remember_memory(content: str, config: RunnableConfig) -> str:
        """Save a memory.

        Args:
            content: the fact, preference or event, as one self-contained sentence.
        """
        mem, where = _target(memory, scope, config, sync=True)
        try:
            hits = call(mem, "search", content, where, k=3) if content.strip() else []
            skipped = _remember_msg(hits, content)
            return skipped or _remembered(call(mem, "add", content, where, provenance=Provenance(speaker="agent")))
        except ZettelmemError as exc:
            raise _model_error(exc) from exc

    async def aremember_memory(content: str, config: RunnableConfig) -> str:
        mem, where = _target(memory, scope, config)
        try:
            hits = await acall(mem, "search", content, where, k=3) if content.strip() else []
            skipped = _remember_msg(hits, content)
            result = None if skipped else await acall(mem, "add", content, where, provenance=Provenance(speaker="agent"))
            return skipped or _remembered(result)
        except ZettelmemError as exc:
            raise _model_error(exc) from exc

    # -- search -----------------------------------------------------------------------------
    def _limit(n: int | None) -> int:
        value = k if n is None else n
        if not 1 <= value <= 50:
            raise InvalidInput(f"k must be between 1 and 50, not {value}")
        return value

    def search_memory(query: str, config: RunnableConfig, k: int | None = None) -> tuple[str, list[dict[str, Any]]]:
        """Search memories.

        Args:
            query: what to look for, in plain words.
            k: how many memories to return (1-50; default set by the application).
        """
        mem, where = _target(memory, scope, config, sync=True)
        if not query.strip():
            return "The query is empty.", []
        try:
            hits = call(mem, "search", query, where, k=_limit(k))
        except ZettelmemError as exc:
            raise _model_error(exc) from exc
        return render_hits(hits), [hit_record(h) for h in hits]

    async def asearch_memory(query: str, config: RunnableConfig, k: int | None = None
                             ) -> tuple[str, list[dict[str, Any]]]:
        mem, where = _target(memory, scope, config)
        if not query.strip():
            return "The query is empty.", []
        try:
            hits = await acall(mem, "search", query, where, k=_limit(k))
        except ZettelmemError as exc:
            raise _model_error(exc) from exc
        return render_hits(hits), [hit_record(h) for h in hits]

    # -- update / forget ------------------------------------------------------------------------
    def _fields(tags: list[str] | None, context: str | None, memory_type: Kind | None) -> dict[str, Any]:
        fields: dict[str, Any] = {"tags": tags, "context": context,
                                  "memory_type": MemoryType(memory_type) if memory_type else None}
        given = {f: v for f, v in fields.items() if v is not None}
        if not given:
            raise InvalidInput("nothing to update: give tags, context or memory_type")
        return given

    def update_memory(note_id: str, config: RunnableConfig, tags: list[str] | None = None,
                      context: str | None = None, memory_type: Kind | None = None) -> str:
        """Update a memory.

        Args:
            note_id: the memory's id, as search_memory gave it.
            tags: the memory's new tags.
            context: one new sentence on what the memory means.
            memory_type: the memory's new type.
        """
        mem, where = _target(memory, scope, config, sync=True)
        try:
            change = call(mem, "update", note_id, where, rationale="agent update", **_fields(tags, context, memory_type))
        except ZettelmemError as exc:
            raise _model_error(exc) from exc
        return f"Updated {note_id} to version {change.version_after} ({', '.join(change.fields) or 'no change'})."

    async def aupdate_memory(note_id: str, config: RunnableConfig, tags: list[str] | None = None,
                             context: str | None = None, memory_type: Kind | None = None) -> str:
        mem, where = _target(memory, scope, config)
        try:
            change = await acall(mem, "update", note_id, where, rationale="agent update",
                                 **_fields(tags, context, memory_type))
        except ZettelmemError as exc:
            raise _model_error(exc) from exc
        return f"Updated {note_id} to version {change.version_after} ({', '.join(change.fields) or 'no change'})."

    def forget_memory(note_id: str, config: RunnableConfig) -> str:
        """Forget a memory.

        Args:
            note_id: the memory's id, as search_memory gave it.
        """
        mem, where = _target(memory, scope, config, sync=True)
        try:
            note = call(mem, "get", note_id, where)
            call(mem, "delete", note_id, where)
        except ZettelmemError as exc:
            raise _model_error(exc) from exc
        return f"Forgot {note_id}: {note.content!r}."

    async def aforget_memory(note_id: str, config: RunnableConfig) -> str:
        mem, where = _target(memory, scope, config)
        try:
            note = await acall(mem, "get", note_id, where)
            await acall(mem, "delete", note_id, where)
        except ZettelmemError as exc:
            raise _model_error(exc) from exc
        return f"Forgot {note_id}: {note.content!r}."

    if k < 1 or k > 50:
        raise ConfigurationError(f"k must be between 1 and 50, not {k}")
    return [
        _both("remember_memory", _REMEMBER, remember_memory, aremember_memory),
        _both("search_memory", _SEARCH, search_memory, asearch_memory, artifact=True),
        _both("update_memory", _UPDATE, update_memory, aupdate_memory),
        _both("forget_memory", _FORGET, forget_memory, aforget_memory),
    ]
