"""A small typed filter language, compiled per backend.

One :class:`Filter` value compiles to a Python predicate (NetworkX, the
reference), a Chroma ``where`` dict (dense pre-filter) and a Cypher fragment with
parameters (Neo4j). ``tests/test_filters.py`` checks the three agree.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, field_validator

from zettelmem.models import MemoryType, Note, Scope, _aware

__all__ = ["Filter", "chroma_filter", "chroma_where", "cypher_where", "predicate"]


class Filter(BaseModel):
    """Conditions on notes; every set field must hold (AND).

    Attributes:
        memory_types: the note's type is one of these.
        tags_any: the note has at least one of these tags.
        tags_all: the note has every one of these tags.
        since / until: ``time_field`` lies in [since, until]; notes with no
            ``event_time`` fall back to ``created_at``.
        time_field: which time the range applies to.
        valid_at: only notes valid at this instant (valid_from <= t < valid_to).
        built_by: only notes built by this kind of agent.
    """

    model_config = ConfigDict(frozen=True)

    memory_types: tuple[MemoryType, ...] | None = None
    tags_any: tuple[str, ...] | None = None
    tags_all: tuple[str, ...] | None = None
    since: datetime | None = None
    until: datetime | None = None
    time_field: Literal["event_time", "created_at"] = "event_time"
    valid_at: datetime | None = None
    built_by: Literal["offline", "llm", "user"] | None = None

    @field_validator("since", "until", "valid_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        return _aware(value)

    def is_empty(self) -> bool:
        return all(getattr(self, f) is None for f in type(self).model_fields if f != "time_field")


def note_time(note: Note, field: str) -> datetime:
    """The time a range filter looks at (event time falls back to creation)."""
    if field == "event_time" and note.event_time is not None:
        return note.event_time
    return note.created_at


def predicate(flt: Filter | None) -> Callable[[Note], bool]:
    """Compile to a Python predicate over notes (the reference semantics)."""
    if flt is None or flt.is_empty():
        return lambda _note: True

    def check(note: Note) -> bool:
        if flt.memory_types is not None and note.memory_type not in flt.memory_types:
            return False
        tags = set(note.tags)
        if flt.tags_any is not None and not tags.intersection(flt.tags_any):
            return False
        if flt.tags_all is not None and not tags.issuperset(flt.tags_all):
            return False
        when = note_time(note, flt.time_field)
        if flt.since is not None and when < flt.since:
            return False
        if flt.until is not None and when > flt.until:
            return False
        if flt.valid_at is not None:
            if note.valid_from is not None and note.valid_from > flt.valid_at:
                return False
            if note.valid_to is not None and note.valid_to <= flt.valid_at:
                return False
        return not (flt.built_by is not None and note.built_by.kind != flt.built_by)

    return check


def chroma_where(scope: Scope, flt: Filter | None) -> dict[str, Any]:
    """Compile to a Chroma ``where`` confined to ``scope`` (validity and ``built_by`` are checked afterwards).

    The vector index stores ``scope``, ``memory_type``, ``tags`` (array) and
    ``t_event``/``t_created`` (epoch seconds, event time falling back to creation).
    """
    inner = chroma_filter(flt)
    clauses: list[dict[str, Any]] = [{"scope": scope.key}]
    if inner is not None:
        clauses += inner.get("$and", [inner])
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def chroma_filter(flt: Filter | None) -> dict[str, Any] | None:
    """Compile to a Chroma ``where`` without a scope clause (a collection per scope), ``None`` when empty."""
    clauses: list[dict[str, Any]] = []
    if flt is not None:
        if flt.memory_types is not None:
            types = [m.value for m in flt.memory_types]  # Chroma rejects an empty $in
            clause: dict[str, Any] = {"memory_type": {"$in": types}} if types else {"scope": "\x00never"}
            clauses.append(clause)
        if flt.tags_any is not None:
            anyc: list[dict[str, Any]] = [{"tags": {"$contains": t}} for t in flt.tags_any]
            anyc = anyc or [{"scope": "\x00never"}]
            clauses.append(anyc[0] if len(anyc) == 1 else {"$or": anyc})
        if flt.tags_all:
            clauses.extend({"tags": {"$contains": t}} for t in flt.tags_all)
        key = "t_event" if flt.time_field == "event_time" else "t_created"
        if flt.since is not None:
            clauses.append({key: {"$gte": flt.since.timestamp()}})
        if flt.until is not None:
            clauses.append({key: {"$lte": flt.until.timestamp()}})
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def cypher_where(flt: Filter | None, var: str = "n", prefix: str = "f_") -> tuple[str, dict[str, Any]]:
    """Compile to a Cypher boolean expression over node ``var`` and its parameters.

    Node properties used: ``memory_type``, ``tags`` (list), ``t_event``,
    ``t_created`` (epoch seconds), ``valid_from``/``valid_to`` (epoch seconds or
    null), ``built_by_kind``. Only parameters carry user values.
    """
    if flt is None or flt.is_empty():
        return "true", {}
    parts: list[str] = []
    params: dict[str, Any] = {}
    if flt.memory_types is not None:
        parts.append(f"{var}.memory_type IN ${prefix}types")
        params[f"{prefix}types"] = [m.value for m in flt.memory_types]
    if flt.tags_any is not None:
        parts.append(f"any(t IN {var}.tags WHERE t IN ${prefix}tags_any)")
        params[f"{prefix}tags_any"] = list(flt.tags_any)
    if flt.tags_all is not None:
        parts.append(f"all(t IN ${prefix}tags_all WHERE t IN {var}.tags)")
        params[f"{prefix}tags_all"] = list(flt.tags_all)
    key = "t_event" if flt.time_field == "event_time" else "t_created"
    if flt.since is not None:
        parts.append(f"{var}.{key} >= ${prefix}since")
        params[f"{prefix}since"] = flt.since.timestamp()
    if flt.until is not None:
        parts.append(f"{var}.{key} <= ${prefix}until")
        params[f"{prefix}until"] = flt.until.timestamp()
    if flt.valid_at is not None:
        parts.append(
            f"({var}.valid_from IS NULL OR {var}.valid_from <= ${prefix}valid_at) AND "
            f"({var}.valid_to IS NULL OR {var}.valid_to > ${prefix}valid_at)"
        )
        params[f"{prefix}valid_at"] = flt.valid_at.timestamp()
    if flt.built_by is not None:
        parts.append(f"{var}.built_by_kind = ${prefix}built_by")
        params[f"{prefix}built_by"] = flt.built_by
    return " AND ".join(f"({p})" for p in parts), params
