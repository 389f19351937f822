"""Counting every LLM call: tokens, latency, outcome, fallbacks, dropped ids, budgets.

One :class:`UsageMeter` belongs to one LLM client (and so to one agent suite). It
keeps running totals, totals per task, and — inside :meth:`UsageMeter.operation`
— totals per operation, which is also where the optional budget lives::

    with meter.operation() as op:          # the engine wraps one add / add_many
        decisions = await suite.joint.decide(items, candidates)
    op.totals()                            # {"calls": 1, "prompt_tokens": ..., ...}

Operations are tracked with a context variable, so concurrent operations (and the
asyncio tasks they spawn) are counted apart. When no operation is open, agents
open one per agent call, so a configured budget is always enforced.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from zettelmem.errors import BudgetExceeded, LLMError

__all__ = [
    "STORED_KEY",
    "CallRecord",
    "CallTally",
    "DroppedId",
    "Fallback",
    "OperationUsage",
    "Outcome",
    "UsageMeter",
    "merge_stored",
    "read_stored",
    "tally",
]

Outcome = Literal["ok", "retried", "repaired", "failed"]


@dataclass(frozen=True)
class CallRecord:
    """One logical model call (its retries and repair included)."""

    task: str
    outcome: Outcome
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    requests: int = 1  # HTTP requests made: 1 + retries + repair
    model: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class DroppedId:
    """An id the model wrote that was not offered to it (or not usable there)."""

    task: str
    kind: str  # "memory" | "link" | "evolution" | "duplicate"
    id: str  # exactly as the model wrote it
    reason: str


@dataclass(frozen=True)
class Fallback:
    """Memories (or a link / evolve step) handed to the offline agents, and why."""

    task: str
    reason: str
    memories: int = 1


@dataclass
class _Tally:
    calls: int = 0
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    ok: int = 0
    retried: int = 0
    repaired: int = 0
    failures: int = 0
    fallbacks: int = 0
    dropped_ids: int = 0
    budget_refusals: int = 0

    def add_call(self, rec: CallRecord) -> None:
        self.calls += 1
        self.requests += rec.requests
        self.prompt_tokens += rec.prompt_tokens
        self.completion_tokens += rec.completion_tokens
        self.latency_s += rec.latency_s
        if rec.outcome == "failed":
            self.failures += 1
        else:
            setattr(self, rec.outcome, getattr(self, rec.outcome) + 1)

    def as_dict(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "requests": self.requests,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
            "latency_s": round(self.latency_s, 6),
            "ok": self.ok,
            "retried": self.retried,
            "repaired": self.repaired,
            "failures": self.failures,
            "fallbacks": self.fallbacks,
            "dropped_ids": self.dropped_ids,
            "budget_refusals": self.budget_refusals,
        }


@dataclass
class OperationUsage:
    """Usage of one operation and its budget (``None`` = unlimited)."""

    meter: UsageMeter
    budget_calls: int | None = None
    budget_tokens: int | None = None
    started: int = 0  # calls admitted by the budget (some may still be running)
    tally: _Tally = field(default_factory=_Tally)
    dropped: list[DroppedId] = field(default_factory=list)
    fallbacks: list[Fallback] = field(default_factory=list)

    def totals(self) -> dict[str, Any]:
        """The same keys as :meth:`UsageMeter.totals`, for this operation only."""
        return self.tally.as_dict()


_OPS: ContextVar[tuple[OperationUsage, ...]] = ContextVar("zettelmem_llm_ops", default=())
_UNSET: Any = object()


class UsageMeter:
    """Counts calls, tokens, latency and outcomes, per task and per operation."""

    def __init__(
        self,
        *,
        budget_calls: int | None = None,
        budget_tokens: int | None = None,
        keep: int = 10_000,
    ) -> None:
        """Create a meter.

        Args:
            budget_calls: default call budget of each operation (``None``: unlimited).
            budget_tokens: default token budget (prompt + completion) of each operation.
            keep: how many call records / dropped ids / fallbacks to keep for inspection.
        """
        self.budget_calls = budget_calls
        self.budget_tokens = budget_tokens
        self.records: deque[CallRecord] = deque(maxlen=keep)
        self.dropped: deque[DroppedId] = deque(maxlen=keep)
        self.fallback_log: deque[Fallback] = deque(maxlen=keep)
        self._total = _Tally()
        self._tasks: dict[str, _Tally] = {}
        self._lock = threading.Lock()

    # -- operations and budgets ---------------------------------------------------

    def current_operation(self) -> OperationUsage | None:
        """The innermost open operation of this meter in the current context."""
        for op in reversed(_OPS.get()):
            if op.meter is self:
                return op
        return None

    @contextmanager
    def operation(
        self, *, budget_calls: int | None = _UNSET, budget_tokens: int | None = _UNSET
    ) -> Iterator[OperationUsage]:
        """Open an operation (one add / add_many); budgets default to the meter's."""
        op = OperationUsage(
            meter=self,
            budget_calls=self.budget_calls if budget_calls is _UNSET else budget_calls,
            budget_tokens=self.budget_tokens if budget_tokens is _UNSET else budget_tokens,
        )
        token = _OPS.set((*_OPS.get(), op))
        try:
            yield op
        finally:
            _OPS.reset(token)

    @contextmanager
    def ensure_operation(self) -> Iterator[OperationUsage]:
        """Reuse the open operation, or open one for the duration of the block."""
        op = self.current_operation()
        if op is not None:
            yield op
        else:
            with self.operation() as new:
                yield new

    def _open_ops(self) -> list[OperationUsage]:
        return [op for op in _OPS.get() if op.meter is self]

    def admit(self, task: str) -> None:
        """Reserve one call in every open operation, or raise if a budget is spent.

        Raises:
            BudgetExceeded: an open operation has used its calls or tokens.
        """
        with self._lock:
            ops = self._open_ops()
            for op in ops:
                used = op.tally.prompt_tokens + op.tally.completion_tokens
                spent = (op.budget_calls is not None and op.started >= op.budget_calls) or (
                    op.budget_tokens is not None and used >= op.budget_tokens
                )
                if spent:
                    for o in ops:
                        o.tally.budget_refusals += 1
                    self._total.budget_refusals += 1
                    self._task(task).budget_refusals += 1
                    raise BudgetExceeded(
                        f"LLM budget of this operation is spent ({op.started} calls of "
                        f"{op.budget_calls}, {used} tokens of {op.budget_tokens}); task {task!r}"
                    )
            for op in ops:
                op.started += 1

    # -- recording ------------------------------------------------------------------

    def _task(self, task: str) -> _Tally:
        return self._tasks.setdefault(task, _Tally())

    def record_call(self, rec: CallRecord) -> None:
        """Count one finished call (any outcome)."""
        with self._lock:
            self.records.append(rec)
            self._total.add_call(rec)
            self._task(rec.task).add_call(rec)
            for op in self._open_ops():
                op.tally.add_call(rec)

    def record_fallback(self, task: str, reason: str, memories: int = 1) -> None:
        """Count work handed to the offline agents."""
        fb = Fallback(task=task, reason=reason, memories=memories)
        with self._lock:
            self.fallback_log.append(fb)
            self._total.fallbacks += memories
            self._task(task).fallbacks += memories
            for op in self._open_ops():
                op.tally.fallbacks += memories
                op.fallbacks.append(fb)

    def record_dropped(self, task: str, kind: str, id: str, reason: str) -> None:
        """Record an id the model invented (or used where it was not offered)."""
        d = DroppedId(task=task, kind=kind, id=id, reason=reason)
        with self._lock:
            self.dropped.append(d)
            self._total.dropped_ids += 1
            self._task(task).dropped_ids += 1
            for op in self._open_ops():
                op.tally.dropped_ids += 1
                op.dropped.append(d)

    # -- reading --------------------------------------------------------------------

    def totals(self) -> dict[str, Any]:
        """Running totals: calls, requests, prompt/completion/total tokens, latency,
        outcomes (ok, retried, repaired, failures), fallbacks, dropped_ids,
        budget_refusals."""
        with self._lock:
            return self._total.as_dict()

    def by_task(self) -> dict[str, dict[str, Any]]:
        """The same totals, per task label."""
        with self._lock:
            return {t: tally.as_dict() for t, tally in sorted(self._tasks.items())}

    def reset(self) -> None:
        """Forget everything counted so far (open operations keep their own totals)."""
        with self._lock:
            self.records.clear()
            self.dropped.clear()
            self.fallback_log.clear()
            self._total = _Tally()
            self._tasks.clear()


@dataclass
class CallTally:
    """What one structured call spent so far; filled in by the client inside :func:`tally`."""

    outcome: Outcome = "failed"
    prompt_tokens: int = 0
    completion_tokens: int = 0
    requests: int = 0
    error: str | None = None


@contextmanager
def tally(meter: UsageMeter, task: str, model: str | None) -> Iterator[CallTally]:
    """Admit one call against the budgets, then record it however it ends."""
    meter.admit(task)
    start = time.perf_counter()
    t = CallTally()
    try:
        yield t
    except LLMError as exc:
        t.error = str(exc)
        raise
    finally:
        meter.record_call(
            CallRecord(
                task=task,
                outcome=t.outcome,
                prompt_tokens=t.prompt_tokens,
                completion_tokens=t.completion_tokens,
                latency_s=time.perf_counter() - start,
                requests=t.requests,
                model=model,
                error=None if t.outcome != "failed" else (t.error or "cancelled")[:500],
            )
        )


# -- counts kept in the store (graph meta), across processes ------------------------------

#: The graph meta key of the LLM counts of every run that wrote to this store.
STORED_KEY = "llm_usage"
_STORED_FIELDS = ("calls", "prompt_tokens", "completion_tokens", "failures", "fallbacks")


def read_stored(value: str | None) -> dict[str, Any]:
    """The stored counts (zeros when nothing was stored or the value is unreadable)."""
    out: dict[str, Any] = dict.fromkeys(_STORED_FIELDS, 0)
    try:
        data = json.loads(value) if value else {}
    except ValueError:
        data = {}
    if isinstance(data, dict):
        out.update({k: int(data[k]) for k in _STORED_FIELDS if isinstance(data.get(k), int)})
        for key in ("last_failure", "last_failure_at"):
            if isinstance(data.get(key), str):
                out[key] = data[key]
    return out


def merge_stored(previous: str | None, delta: Mapping[str, int], reason: str | None = None) -> str | None:
    """The stored counts plus one chunk's ``delta`` (None when the chunk called no LLM).

    Args:
        previous: the current meta value (or None).
        delta: calls, tokens, failures and fallbacks of the chunk.
        reason: why the last fallback happened (kept as ``last_failure``).
    """
    if not any(int(delta.get(k, 0)) for k in _STORED_FIELDS):
        return None
    out = read_stored(previous)
    for key in _STORED_FIELDS:
        out[key] += int(delta.get(key, 0))
    if reason and (delta.get("failures") or delta.get("fallbacks")):
        out["last_failure"] = reason[:300]
        out["last_failure_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    return json.dumps(out, sort_keys=True)
