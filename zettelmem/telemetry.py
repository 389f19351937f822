"""OpenTelemetry ``gen_ai.memory`` spans for the Memory API (optional ``otel`` extra).

With ``opentelemetry-api`` installed, every :class:`~zettelmem.AsyncMemory` (and so
every :class:`~zettelmem.Memory`) operation emits one span following the GenAI
memory semantic conventions (development status), on the tracer ``zettelmem``:

==================  ============================  ===========================================
span name           ``gen_ai.operation.name``     methods
==================  ============================  ===========================================
create_memory_store ``create_memory_store``       opening a memory (``AsyncMemory(...)``)
search_memory       ``search_memory``             ``search``
update_memory       ``update_memory``             ``add`` / ``add_many``, ``update``, ``revert``,
                                                  ``link``, ``unlink``, ``evolve``
delete_memory       ``delete_memory``             ``delete``
==================  ============================  ===========================================

(the span name is ``"<operation> <store id>"``). Attributes: ``gen_ai.provider.name``
(``zettelmem``), ``gen_ai.memory.store.id`` (the memory's home folder),
``gen_ai.memory.record.id`` (one record) or ``zettelmem.record.ids`` (several),
``gen_ai.memory.record.count`` (records written, deleted or returned),
``zettelmem.scope`` and its parts ``zettelmem.scope.user_id`` / ``.agent_id`` /
``.namespace``, ``zettelmem.method``, ``gen_ai.request.top_k`` (search), and for the
LLM work an operation did: ``zettelmem.llm.calls``, ``gen_ai.usage.input_tokens``,
``gen_ai.usage.output_tokens``. A failure sets the span status to error and
``error.type`` to the exception's class.

Content is off by default: memory text and queries (``gen_ai.memory.query.text``,
``gen_ai.memory.records``) are recorded only after ``configure(capture_content=True)``
or with ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true``. Without the
extra, :func:`instrument` changes nothing and costs nothing.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from zettelmem.models import Scope

__all__ = ["CAPTURE_ENV", "TRACER", "configure", "content_captured", "instrument"]

C = TypeVar("C", bound=type)
TRACER = "zettelmem"
CAPTURE_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
_capture: bool | None = None

#: method -> (operation name, index of the scope argument after ``self``)
_OPS: dict[str, tuple[str, int]] = {
    "add_many": ("update_memory", 1),
    "search": ("search_memory", 1),
    "update": ("update_memory", 1),
    "revert": ("update_memory", 1),
    "link": ("update_memory", 2),
    "unlink": ("update_memory", 2),
    "evolve": ("update_memory", 1),
    "delete": ("delete_memory", 1),
}


def configure(*, capture_content: bool | None = None) -> None:
    """Turn recording of memory text and queries on or off (``None``: follow the environment)."""
    global _capture
    _capture = capture_content


def content_captured() -> bool:
    """Whether spans carry memory text (off unless configured or set in the environment)."""
    if _capture is not None:
        return _capture
    return os.environ.get(CAPTURE_ENV, "").strip().lower() in ("1", "true", "yes", "span_only", "span_and_event")


def _trace() -> Any:
    try:
        from opentelemetry import trace
    except ImportError:
        return None
    return trace


def _scope_of(args: tuple[Any, ...], kwargs: dict[str, Any], position: int) -> Scope | None:
    value = kwargs.get("scope", args[position] if len(args) > position else None)
    return value if isinstance(value, Scope) else None


def _records(span: Any, method: str, args: tuple[Any, ...], result: Any, capture: bool) -> None:
    """Record ids, counts, LLM usage and (opt-in) content of one finished call."""
    from zettelmem.engine.results import AddResult, SearchHit
    from zettelmem.models import Change, Link

    ids: list[str] = []
    content: list[dict[str, Any]] = []
    count: int | None = None
    if method in ("add_many", "evolve") and isinstance(result, list):
        result = [r for r in result if isinstance(r, AddResult)]
        ids = [r.note.id for r in result] + [c.note_id for r in result for c in r.changes]
        count = len(result) if method == "add_many" else sum(len(r.changes) for r in result)
        span.set_attribute("zettelmem.llm.calls", sum(r.usage.calls for r in result))
        span.set_attribute("gen_ai.usage.input_tokens", sum(r.usage.prompt_tokens for r in result))
        span.set_attribute("gen_ai.usage.output_tokens", sum(r.usage.completion_tokens for r in result))
        content = [{"id": r.note.id, "content": r.note.content} for r in result if method == "add_many"]
        scopes = {r.note.scope for r in result}
        if len(scopes) == 1:  # add_many takes its scope from the items when the call names none
            for key, value in _scope_attrs(scopes.pop()).items():
                span.set_attribute(key, value)
    elif method == "search" and isinstance(result, list):
        result = [h for h in result if isinstance(h, SearchHit)]
        ids, count = [h.note.id for h in result], len(result)
        content = [{"id": h.note.id, "content": h.note.content, "score": h.score} for h in result]
    elif isinstance(result, Change):
        ids, count = [result.note_id], 1 if result.after else 0
    elif isinstance(result, Link):
        ids, count = [result.source, result.target], 1
    elif method == "delete" and isinstance(result, int):
        raw = args[0] if args else []
        ids, count = ([raw] if isinstance(raw, str) else [str(i) for i in raw]), result
    elif method == "unlink" and isinstance(result, int):
        ids, count = [str(a) for a in args[:2]], result
    ids = list(dict.fromkeys(ids))
    if len(ids) == 1:
        span.set_attribute("gen_ai.memory.record.id", ids[0])
    elif ids:
        span.set_attribute("zettelmem.record.ids", ids)
    if count is not None:
        span.set_attribute("gen_ai.memory.record.count", count)
    if capture and content:
        span.set_attribute("gen_ai.memory.records", json.dumps(content, ensure_ascii=False))


@contextmanager
def _span(trace: Any, operation: str, store: str, attrs: dict[str, Any]) -> Iterator[Any]:
    tracer = trace.get_tracer(TRACER)
    with tracer.start_as_current_span(f"{operation} {store}", kind=trace.SpanKind.CLIENT,
                                      record_exception=False, set_status_on_exception=False) as span:
        span.set_attribute("gen_ai.operation.name", operation)
        span.set_attribute("gen_ai.provider.name", "zettelmem")
        span.set_attribute("gen_ai.memory.store.id", store)
        for key, value in attrs.items():
            if value is not None:
                span.set_attribute(key, value)
        try:
            yield span
        except BaseException as exc:
            span.set_attribute("error.type", type(exc).__name__)
            span.set_status(trace.Status(trace.StatusCode.ERROR, type(exc).__name__))
            raise


def _scope_attrs(scope: Scope | None) -> dict[str, Any]:
    if scope is None:
        return {}
    return {"zettelmem.scope": str(scope), "zettelmem.scope.user_id": scope.user_id,
            "zettelmem.scope.agent_id": scope.agent_id, "zettelmem.scope.namespace": scope.namespace}


def _wrap(trace: Any, method: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    operation, position = _OPS[method]

    @functools.wraps(fn)
    async def traced(self: Any, *args: Any, **kwargs: Any) -> Any:
        capture = content_captured()
        attrs = {"zettelmem.method": method, **_scope_attrs(_scope_of(args, kwargs, position))}
        if method == "search":
            attrs["gen_ai.request.top_k"] = kwargs.get("k", 10)
            if capture and args:
                attrs["gen_ai.memory.query.text"] = str(args[0])
        with _span(trace, operation, str(self.settings.home), attrs) as span:
            result = await fn(self, *args, **kwargs)
            _records(span, method, args, result, capture)
            return result

    return traced


def _wrap_init(trace: Any, init: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(init)
    def traced_init(self: Any, settings: Any = None, **kwargs: Any) -> None:
        store = str(settings.home) if settings is not None else "default"
        with _span(trace, "create_memory_store", store, {"zettelmem.method": "open"}) as span:
            init(self, settings, **kwargs)
            span.update_name(f"create_memory_store {self.settings.home}")
            span.set_attribute("gen_ai.memory.store.id", str(self.settings.home))
            span.set_attribute("zettelmem.graph_backend", str(self.graph.name))

    return traced_init


def instrument(cls: C) -> C:
    """Wrap ``cls``'s memory operations in spans (a no-op without ``opentelemetry-api``)."""
    trace = _trace()
    if trace is None or getattr(cls, "_zettelmem_traced", False):
        return cls
    for method in _OPS:
        setattr(cls, method, _wrap(trace, method, getattr(cls, method)))
    setattr(cls, "__init__", _wrap_init(trace, cls.__dict__["__init__"]))  # noqa: B010
    setattr(cls, "_zettelmem_traced", True)  # noqa: B010
    return cls
