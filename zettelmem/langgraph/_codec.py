"""Encodings of LangGraph namespaces, and the batch-level checks of raw ops.

Two encodings, both reversible:

* **rows** (``langgraph.sqlite``): the labels joined by ``"."``. LangGraph forbids
  ``"."`` (and NUL and empty labels) in every label, and :func:`check_ops` enforces
  that for raw ops too, so the join is unambiguous. A namespace ``p`` owns the rows
  ``ns = p`` and ``p. <= ns < p/`` (``"/"`` follows ``"."``), which SQLite's binary
  collation answers from the primary key, with no ``LIKE``/``GLOB`` escaping.
* **scopes** (zettelmem notes): ``Scope(user_id="langgraph", agent_id="store",
  namespace=...)`` where ``namespace`` is each label percent-encoded
  (``urllib.parse.quote(label, safe="")``) and joined by ``"."``. Percent-encoding
  removes ``"\\x1f"`` (zettelmem's scope-key separator) and every other control
  character, and ``"%"`` itself, so look-alike namespaces never share a scope:
  ``("foo",)``, ``("foobar",)``, ``("Foo",)``, ``("foo%2E",)`` and ``("a", "b")``
  all differ. Encodings longer than 256 characters (zettelmem's limit per scope
  part) become ``"sha256:" + hex digest`` of the row encoding; the store keeps the
  namespace of every note it made, so those are reversible through the store.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, unquote

from langgraph.store.base import (
    GetOp,
    InvalidNamespaceError,
    ListNamespacesOp,
    MatchCondition,
    Op,
    PutOp,
    SearchOp,
)

try:
    from langgraph.store.base import validate_op_namespace
except ImportError:  # langgraph-checkpoint < 4.3: the same rules, checked here

    def validate_op_namespace(op: Op) -> None:
        if isinstance(op, GetOp | PutOp):
            paths: list[Any] = [op.namespace]
        elif isinstance(op, SearchOp):
            paths = [op.namespace_prefix]
        else:
            paths = [c.path for c in op.match_conditions or ()]
        for path in paths:
            for label in path:
                if not isinstance(label, str) or not label or "." in label or "\x00" in label:
                    raise InvalidNamespaceError(f"Invalid namespace label {label!r} in {tuple(path)}")

from zettelmem.models import Scope

__all__ = [
    "SCOPE_AGENT",
    "SCOPE_USER",
    "check_ops",
    "decode_ns",
    "encode_ns",
    "namespace_scope",
    "prefix_clause",
    "scope_namespace",
]

SCOPE_USER = "langgraph"
SCOPE_AGENT = "store"
_MAX_SCOPE_PART = 256


def encode_ns(namespace: tuple[str, ...]) -> str:
    """Row encoding: labels joined by ``"."`` (labels never contain one)."""
    return ".".join(namespace)


def decode_ns(text: str) -> tuple[str, ...]:
    return tuple(text.split(".")) if text else ()


def prefix_clause(prefix: tuple[str, ...], column: str = "ns") -> tuple[str, list[str]]:
    """SQL condition (and parameters) for rows whose namespace starts with ``prefix``."""
    if not prefix:
        return "1", []
    p = encode_ns(prefix)
    return f"({column} = ? OR ({column} >= ? AND {column} < ?))", [p, p + ".", p + "/"]


def namespace_scope(namespace: tuple[str, ...] | list[str]) -> Scope:
    """The zettelmem scope that holds the notes of one LangGraph namespace."""
    ns = tuple(namespace)
    if not ns:
        raise InvalidNamespaceError("Namespace cannot be empty.")
    for label in ns:
        if not isinstance(label, str) or not label or "." in label or "\x00" in label:
            raise InvalidNamespaceError(f"Invalid namespace label {label!r} in {ns}")
    enc = ".".join(quote(label, safe="") for label in ns)
    if len(enc) > _MAX_SCOPE_PART:
        enc = "sha256:" + hashlib.sha256(encode_ns(ns).encode("utf-8", "surrogatepass")).hexdigest()
    return Scope(user_id=SCOPE_USER, agent_id=SCOPE_AGENT, namespace=enc)


def scope_namespace(scope: Scope) -> tuple[str, ...] | None:
    """The namespace of a scope made by :func:`namespace_scope` (``None`` if hashed or foreign)."""
    if scope.user_id != SCOPE_USER or scope.agent_id != SCOPE_AGENT or scope.namespace.startswith("sha256:"):
        return None
    return tuple(unquote(part) for part in scope.namespace.split("."))


# -- raw ops ------------------------------------------------------------------------------
def _as_path(path: Any) -> tuple[Any, ...]:
    # ``MatchCondition("suffix", "public")`` (a bare string) means the one label "public".
    if isinstance(path, str):
        return (path,)
    return tuple(path)


def _normalize(op: Op) -> Op:
    if isinstance(op, SearchOp):
        if not isinstance(op.namespace_prefix, tuple):
            op = op._replace(namespace_prefix=_as_path(op.namespace_prefix))
        if op.filter is not None and not isinstance(op.filter, Mapping):
            raise TypeError(f"search filter must be a mapping, not {type(op.filter).__name__}")
        return op
    if isinstance(op, ListNamespacesOp):
        conds = tuple(MatchCondition(c.match_type, _as_path(c.path)) for c in op.match_conditions or ())
        for c in conds:
            if c.match_type not in ("prefix", "suffix"):
                raise ValueError(f"Unsupported match type: {c.match_type}")
        return op._replace(match_conditions=conds)
    if isinstance(op, GetOp | PutOp):
        if not isinstance(op.namespace, tuple):
            op = op._replace(namespace=_as_path(op.namespace))
        if not isinstance(op.key, str):
            op = op._replace(key=str(op.key))
        if isinstance(op, PutOp):
            if not op.namespace:
                raise InvalidNamespaceError("Namespace cannot be empty.")
            if op.value is not None and not isinstance(op.value, Mapping):
                raise TypeError(f"PutOp value must be a mapping or None, not {type(op.value).__name__}")
            if op.index not in (None, False) and not isinstance(op.index, list | tuple):
                raise TypeError("PutOp index must be None, False or a list of field paths")
        return op
    raise ValueError(f"Unknown operation type: {type(op)}")


def check_ops(ops: Iterable[Op]) -> list[Op]:
    """Normalise and validate every op of a batch before any of them runs.

    Raises ``InvalidNamespaceError`` (``langgraph.store.base.validate_op_namespace``)
    for a bad label anywhere in the batch, so a batch either runs whole or not at
    all; a list prefix (``search(["a"])``) is read as the tuple.
    """
    out = [_normalize(op) for op in ops]
    for op in out:
        validate_op_namespace(op)
    return out
