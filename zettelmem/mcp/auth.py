"""Whose memory a request may touch: the server's bound scope, a bearer token's scope, a narrowing.

Over stdio the scope is the server's (``--user/--agent/--namespace``). Over HTTP
every request needs ``Authorization: Bearer <token>``; the tokens file maps each
token to a scope, and a request without a known token is answered 401 by the SDK's
auth middleware before any tool runs. A tool's ``namespace`` argument can only
narrow the scope it was given (``team`` -> ``team/notes``), never leave it.

Tokens file (JSON)::

    {"tokens": [
        {"token": "a-long-random-string", "user": "alice"},
        {"sha256": "<hex digest of a token>", "user": "bob", "agent": "claude", "namespace": "work"}
    ]}

``user`` / ``agent`` / ``namespace`` a token leaves out take the server's values.
Tokens are compared by their SHA-256 digest, so the file may hold digests only.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from zettelmem.errors import ConfigurationError, InvalidInput
from zettelmem.models import Scope

__all__ = ["TokenTable", "current_scope", "narrow", "token_digest"]

CLAIM = "zettelmem_scope"
_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,63}$")
_MIN_TOKEN = 16


def token_digest(token: str) -> str:
    """The SHA-256 hex digest a tokens file may hold instead of the token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class TokenTable:
    """Bearer token digests -> scopes, loaded from a tokens file."""

    def __init__(self, scopes: dict[str, Scope]) -> None:
        self._by_digest = dict(scopes)

    def __len__(self) -> int:
        return len(self._by_digest)

    @classmethod
    def load(cls, path: Path, default: Scope) -> TokenTable:
        """Read a tokens file; a token's missing scope parts come from ``default``."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigurationError(f"cannot read tokens file {path}: {exc}") from exc
        entries = data.get("tokens") if isinstance(data, dict) else None
        if not isinstance(entries, list) or not entries:
            raise ConfigurationError(f"tokens file {path} needs a non-empty \"tokens\" list")
        table: dict[str, Scope] = {}
        for i, entry in enumerate(entries):
            table.update([cls._entry(entry, default, f"{path} tokens[{i}]")])
        return cls(table)

    @staticmethod
    def _entry(entry: Any, default: Scope, where: str) -> tuple[str, Scope]:
        if not isinstance(entry, dict):
            raise ConfigurationError(f"{where} must be an object")
        unknown = set(entry) - {"token", "sha256", "user", "agent", "namespace"}
        if unknown:
            raise ConfigurationError(f"{where} has unknown keys {sorted(unknown)}")
        token, digest = entry.get("token"), entry.get("sha256")
        if (token is None) == (digest is None):
            raise ConfigurationError(f"{where} needs exactly one of \"token\" or \"sha256\"")
        if token is not None:
            if not isinstance(token, str) or len(token) < _MIN_TOKEN:
                raise ConfigurationError(f"{where}: a token must be a string of at least {_MIN_TOKEN} characters")
            digest = token_digest(token)
        if not isinstance(digest, str) or not re.fullmatch(r"[0-9a-f]{64}", digest):
            raise ConfigurationError(f"{where}: sha256 must be 64 lowercase hex digits")
        try:
            scope = Scope(user_id=entry.get("user", default.user_id), agent_id=entry.get("agent", default.agent_id),
                          namespace=entry.get("namespace", default.namespace))
        except ValidationError as exc:
            raise ConfigurationError(f"{where}: invalid scope: {exc.errors()[0]['msg']}") from exc
        return digest, scope

    def scope_of(self, token: str) -> Scope | None:
        return self._by_digest.get(token_digest(token))


def narrow(scope: Scope, namespace: str | None) -> Scope:
    """``scope`` itself, or a namespace inside it (``<namespace>/<sub>[/<sub>…]``)."""
    if namespace is None or namespace == "":
        return scope
    parts = namespace.split("/")
    if any(not _SEGMENT.match(p) for p in parts) or len(parts) > 4:
        raise InvalidInput(
            f"namespace {namespace!r} must be 1-4 '/'-separated parts of letters, digits and _.:@- "
            "(it narrows the bound scope; it cannot name another one)"
        )
    return Scope(user_id=scope.user_id, agent_id=scope.agent_id, namespace=f"{scope.namespace}/{namespace}")


def current_scope(bound: Scope, authenticated: bool) -> Scope:
    """The scope of the request being served: the token's over HTTP with auth, else ``bound``."""
    if not authenticated:
        return bound
    from mcp.server.auth.middleware.auth_context import get_access_token

    token = get_access_token()
    claim = (token.claims or {}).get(CLAIM) if token is not None else None
    if not isinstance(claim, str):
        raise InvalidInput("this request carries no authenticated scope")  # the middleware answers 401 first
    return Scope.from_key(claim)
