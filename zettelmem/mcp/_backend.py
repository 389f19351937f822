"""What every tool shares: the memory, the knowledge-graph map, the request's scope, the error guard."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import ParamSpec, TypeVar

from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations

from zettelmem.engine.core import AsyncMemory
from zettelmem.errors import InvalidInput, ZettelmemError
from zettelmem.mcp._kg import KnowledgeGraphMap
from zettelmem.mcp.auth import current_scope, narrow
from zettelmem.models import Scope

__all__ = ["READ", "Backend", "guarded", "parse_time", "write"]

P = ParamSpec("P")
R = TypeVar("R")

#: A tool that only reads.
READ = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)


def write(*, destructive: bool, idempotent: bool) -> ToolAnnotations:
    """Annotations of a tool that writes."""
    return ToolAnnotations(read_only_hint=False, destructive_hint=destructive, idempotent_hint=idempotent,
                           open_world_hint=False)


@dataclass
class Backend:
    """The open memory and how a request's scope is found."""

    mem: AsyncMemory
    kg: KnowledgeGraphMap
    bound: Scope
    authenticated: bool

    def scope(self, namespace: str | None = None) -> Scope:
        """The request's scope (the token's over HTTP), narrowed to ``namespace`` when given."""
        return narrow(current_scope(self.bound, self.authenticated), namespace)


def guarded(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Turn a :class:`ZettelmemError` into a tool error result carrying its message.

    Anything else a tool raises is reported by the SDK as a failed call
    (``Error executing tool …``, traceback in the server log): the session and the
    server stay up either way.
    """

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await fn(*args, **kwargs)
        except ZettelmemError as exc:
            message = " ".join(str(exc).split()) or type(exc).__name__
            raise ToolError(f"{message} [{type(exc).__name__}]") from exc

    return wrapper


def parse_time(value: str | None, what: str) -> datetime | None:
    if value is None or value == "":
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{what} must be ISO 8601 (e.g. 2024-03-02 or 2024-03-02T18:30), not {value!r}") from None
