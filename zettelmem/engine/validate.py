"""Arguments of the public API checked at the boundary, before anything is read or written.

Every check raises :class:`~zettelmem.errors.InvalidInput` (or a subclass) naming
the argument, so a wrong type or value never reaches a store, a tokenizer or a
driver as an untyped error, and a refused call writes nothing. ``AsyncMemory``
calls one of these per argument at the top of each public method.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from zettelmem.errors import InvalidContent, InvalidInput
from zettelmem.filters import Filter
from zettelmem.models import MemoryType, Relation, Scope

__all__ = [
    "MAX_ID_CHARS",
    "MAX_METADATA_BYTES",
    "MAX_QUERY_CHARS",
    "MAX_RATIONALE_CHARS",
    "as_of",
    "batch_size",
    "change_id",
    "count",
    "expected_version",
    "filter_",
    "k",
    "labels",
    "memory_fields",
    "memory_type",
    "metadata",
    "note_id",
    "note_ids",
    "optional_bool",
    "query",
    "rationale",
    "relation",
    "scope",
    "text",
    "update_fields",
    "weight",
]

MAX_ID_CHARS = 256
MAX_QUERY_CHARS = 10_000
MAX_RATIONALE_CHARS = 2_000
MAX_METADATA_BYTES = 64 * 1024
MAX_K = 1_000


def _type_name(value: object) -> str:
    return type(value).__name__


def text(value: object, what: str, *, max_chars: int, empty_ok: bool = False) -> str:
    """A string without NUL bytes or lone surrogates, at most ``max_chars`` long."""
    if not isinstance(value, str):
        raise InvalidInput(f"{what} must be a string, not {_type_name(value)}")
    if "\x00" in value:
        raise InvalidContent(f"{what} contains NUL bytes")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidContent(f"{what} is not encodable as UTF-8 ({exc.reason})") from None
    if not empty_ok and not value.strip():
        raise InvalidInput(f"{what} is empty")
    if len(value) > max_chars:
        raise InvalidInput(f"{what} has {len(value)} characters; the limit is {max_chars}")
    return value


def scope(value: object) -> Scope | None:
    """None (the global scope) or a :class:`Scope`."""
    if value is None or isinstance(value, Scope):
        return value
    raise InvalidInput(f"scope must be a Scope (e.g. Scope(user_id=...)), not {_type_name(value)}")


def note_id(value: object, what: str = "note id") -> str:
    return text(value, what, max_chars=MAX_ID_CHARS)


def change_id(value: object) -> str:
    return text(value, "change id", max_chars=MAX_ID_CHARS)


def note_ids(value: object) -> list[str]:
    """One id or a sequence of ids (not None, not a mapping)."""
    if isinstance(value, str):
        return [note_id(value)]
    if value is None or isinstance(value, dict | bytes) or not isinstance(value, Sequence | set | frozenset):
        raise InvalidInput(f"note ids must be a string or a list of strings, not {_type_name(value)}")
    return [note_id(v) for v in value]


def count(value: object, what: str, *, minimum: int = 0, maximum: int | None = None,
          none_ok: bool = True) -> int | None:
    """An int (never a bool, float or string) in [minimum, maximum]."""
    if value is None and none_ok:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidInput(f"{what} must be an integer, not {_type_name(value)} {value!r}")
    if value < minimum or (maximum is not None and value > maximum):
        upper = f"..{maximum}" if maximum is not None else " or more"
        raise InvalidInput(f"{what} must be {minimum}{upper}, not {value}")
    return value


def k(value: object) -> int:
    out = count(value, "k", minimum=1, maximum=MAX_K, none_ok=False)
    assert out is not None
    return out


def batch_size(value: object) -> int | None:
    return count(value, "batch_size", minimum=1)


def expected_version(value: object) -> int | None:
    return count(value, "expected_version", minimum=1)


def optional_bool(value: object, what: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise InvalidInput(f"{what} must be True, False or None, not {_type_name(value)}")


def filter_(value: object) -> Filter | None:
    """None or a :class:`~zettelmem.filters.Filter` (a plain dict is refused: build ``Filter(**d)``)."""
    if value is None or isinstance(value, Filter):
        return value
    raise InvalidInput(f"where must be a zettelmem.Filter (e.g. Filter(tags_any=('x',))), not {_type_name(value)}")


def as_of(value: object) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    raise InvalidInput(f"as_of must be a datetime, not {_type_name(value)} {value!r}")


def query(value: object) -> str:
    return text(value, "query", max_chars=MAX_QUERY_CHARS)


def rationale(value: object) -> str:
    return text(value, "rationale", max_chars=MAX_RATIONALE_CHARS, empty_ok=True)


def relation(value: object) -> Relation:
    try:
        return Relation(value)  # type: ignore[arg-type]  # any value: ValueError below
    except ValueError:
        allowed = ", ".join(r.value for r in Relation)
        raise InvalidInput(f"relation must be one of {allowed}, not {value!r}") from None


def memory_type(value: object) -> MemoryType:
    try:
        return MemoryType(value)  # type: ignore[arg-type]  # any value: ValueError below
    except ValueError:
        allowed = ", ".join(m.value for m in MemoryType)
        raise InvalidInput(f"memory_type must be one of {allowed}, not {value!r}") from None


def weight(value: object) -> float:
    """A finite number in [0, 1]."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise InvalidInput(f"weight must be a number, not {_type_name(value)}")
    if not math.isfinite(value) or not 0.0 <= value <= 1.0:
        raise InvalidInput(f"weight must be a number from 0 to 1, not {value!r}")
    return float(value)


def labels(value: object, what: str) -> list[str]:
    """A list of user-given tags or keywords (a bare string would be split into letters: refused)."""
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise InvalidInput(f"{what} must be a list of strings, not {_type_name(value)}")
    from zettelmem.text import clean_label

    for v in value:
        text(v, what[:-1] if what.endswith("s") else what, max_chars=10_000, empty_ok=True)
        clean_label(v)  # user-given: an empty or over-long label is refused, not cut
    return list(value)


def _json_value(value: object, where: str, depth: int = 0) -> None:
    if depth > 32:
        raise InvalidInput(f"metadata nests deeper than 32 levels at {where}")
    if value is None or isinstance(value, bool | int):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidInput(f"metadata value at {where} is {value!r}; JSON has no NaN or infinity")
        return
    if isinstance(value, str):
        text(value, f"metadata value at {where}", max_chars=MAX_METADATA_BYTES, empty_ok=True)
        return
    if isinstance(value, list | tuple):
        for i, v in enumerate(value):
            _json_value(v, f"{where}[{i}]", depth + 1)
        return
    if isinstance(value, dict):
        for key, v in value.items():
            if not isinstance(key, str):
                raise InvalidInput(f"metadata keys must be strings; {where} has {_type_name(key)} key {key!r}")
            text(key, f"metadata key at {where}", max_chars=1_000, empty_ok=True)
            _json_value(v, f"{where}.{key}", depth + 1)
        return
    raise InvalidInput(
        f"metadata value at {where} is a {_type_name(value)}; only JSON values "
        "(str, int, float, bool, None, list, dict) are stored"
    )


def metadata(value: object) -> dict[str, Any]:
    """A JSON object of plain values, without lone surrogates, at most 64 KiB as JSON."""
    if not isinstance(value, dict):
        raise InvalidInput(f"metadata must be a dict, not {_type_name(value)}")
    _json_value(value, "metadata")
    size = len(json.dumps(value, ensure_ascii=False).encode("utf-8"))
    if size > MAX_METADATA_BYTES:
        raise InvalidInput(f"metadata is {size} bytes as JSON; the limit is {MAX_METADATA_BYTES}")
    return value


def memory_fields(data: dict[str, Any]) -> None:
    """The caller-given fields of a new memory that pydantic alone would let through or mangle."""
    if "metadata" in data and data["metadata"] is not None:
        metadata(data["metadata"])
    if "tags" in data and data["tags"] is not None:
        labels(data["tags"], "tags")


def update_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """The fields of ``update``: labels as lists, a context string, a known memory type."""
    from zettelmem.models import EVOLVABLE_FIELDS

    for name, value in fields.items():
        if name not in EVOLVABLE_FIELDS:
            raise InvalidInput(f"field {name!r} cannot be changed (only {', '.join(EVOLVABLE_FIELDS)})")
        if name in ("tags", "keywords"):
            labels(value, name)
        elif name == "context":
            text(value, "context", max_chars=500, empty_ok=True)
        else:
            memory_type(value)
    return fields
