"""Pure helpers of the LangGraph store: value filters, namespace conditions, scores.

The semantics are those of ``langgraph.store.memory.InMemoryStore`` (the reference),
tightened where it is loose:

* equality is JSON equality: ``True`` does not equal ``1`` (as in Postgres ``jsonb``);
* ``$gt/$gte/$lt/$lte`` compare numbers with numbers and strings with strings; any
  other pair (a missing field, ``None``, a list) does not match instead of raising;
* a filter key absent from the value but containing dots (``"user.level"``) is read
  as a nested path, as SQLite's store does; a literal top-level key wins.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from langgraph.store.base import MatchCondition

__all__ = ["DISTANCES", "cosine_scores", "matches_conditions", "similarity_scores", "value_filter"]

_MISSING = object()
_OPS = ("$eq", "$ne", "$gt", "$gte", "$lt", "$lte")


def _json_equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a is b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b, strict=True))
    if a is None or b is None:
        return a is b
    return type(a) is type(b) and bool(a == b)


def _is_number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def _order(value: Any, operator: str, bound: Any) -> bool:
    if _is_number(value) and _is_number(bound):
        if math.isnan(value) or math.isnan(bound):
            return False
        a, b = value, bound
    elif isinstance(value, str) and isinstance(bound, str):
        a, b = value, bound
    else:
        return False
    if operator == "$gt":
        return bool(a > b)
    if operator == "$gte":
        return bool(a >= b)
    if operator == "$lt":
        return bool(a < b)
    return bool(a <= b)


def _apply(value: Any, operator: str, operand: Any) -> bool:
    if operator == "$eq":
        return value is not _MISSING and _json_equal(value, operand)
    if operator == "$ne":
        return value is _MISSING or not _json_equal(value, operand)
    if value is _MISSING:
        return False
    return _order(value, operator, operand)


def _compare(value: Any, wanted: Any) -> bool:
    if isinstance(wanted, Mapping):
        if any(isinstance(k, str) and k.startswith("$") for k in wanted):
            for op in wanted:
                if op not in _OPS:
                    raise ValueError(f"Unsupported operator: {op}")
            return all(_apply(value, op, operand) for op, operand in wanted.items())
        if not isinstance(value, Mapping):
            return False
        return all(_compare(value.get(k, _MISSING), v) for k, v in wanted.items())
    if value is _MISSING:
        return False
    return _json_equal(value, wanted)


def _lookup(value: Mapping[str, Any], key: str) -> Any:
    if key in value:
        return value[key]
    if "." not in key:
        return _MISSING
    cur: Any = value
    for part in key.split("."):
        if not isinstance(cur, Mapping) or part not in cur:
            return _MISSING
        cur = cur[part]
    return cur


def value_filter(flt: Mapping[str, Any] | None) -> Callable[[Mapping[str, Any]], bool]:
    """A predicate over item values for a LangGraph search ``filter``."""
    if not flt:
        return lambda _value: True
    for wanted in flt.values():  # reject unknown operators before scanning anything
        if isinstance(wanted, Mapping):
            for op in wanted:
                if isinstance(op, str) and op.startswith("$") and op not in _OPS:
                    raise ValueError(f"Unsupported operator: {op}")
    items = list(flt.items())
    return lambda value: all(_compare(_lookup(value, k), v) for k, v in items)


def _match(cond: MatchCondition, ns: tuple[str, ...]) -> bool:
    path = cond.path
    if len(ns) < len(path):
        return False
    if cond.match_type == "prefix":
        pairs = zip(ns, path, strict=False)
    else:
        pairs = zip(reversed(ns), reversed(path), strict=False)
    return all(p == "*" or a == p for a, p in pairs)


def matches_conditions(ns: tuple[str, ...], conds: Sequence[MatchCondition]) -> bool:
    """Whether a namespace meets every ``list_namespaces`` condition (``"*"`` = one label)."""
    return all(_match(c, ns) for c in conds)


def cosine_scores(query: Sequence[float], matrix: np.ndarray) -> np.ndarray:
    """Cosine similarity of each row with ``query`` (0 for zero vectors).

    Rows are reduced one by one (``einsum``, not BLAS), so identical rows get
    bit-identical scores wherever they sit in the matrix.
    """
    if matrix.size == 0:
        return np.zeros(0)
    q = np.asarray(query, dtype=matrix.dtype)
    dots = np.einsum("ij,j->i", matrix, q).astype(np.float64)
    norms = np.sqrt(np.einsum("ij,ij->i", matrix, matrix).astype(np.float64)) * float(np.linalg.norm(query))
    out = np.zeros(len(matrix))
    ok = norms > 0
    out[ok] = dots[ok] / norms[ok]
    return out


DISTANCES = ("cosine", "inner_product", "l2")


def similarity_scores(query: Sequence[float], matrix: np.ndarray, distance: str = "cosine") -> np.ndarray:
    """Higher is closer: cosine similarity, inner product, or negative L2 distance (as PostgresStore)."""
    if distance == "cosine":
        return cosine_scores(query, matrix)
    if matrix.size == 0:
        return np.zeros(0)
    q = np.asarray(query, dtype=matrix.dtype)
    if distance == "inner_product":
        dots: np.ndarray = np.einsum("ij,j->i", matrix, q).astype(np.float64)
        return dots
    if distance == "l2":
        d = matrix - q
        neg: np.ndarray = -np.sqrt(np.einsum("ij,ij->i", d, d).astype(np.float64))
        return neg
    raise ValueError(f"unsupported distance_type {distance!r}; use one of {DISTANCES}")
