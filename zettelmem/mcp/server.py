"""Wiring: one AsyncMemory, the tools and resources, stdio or streamable HTTP with bearer tokens."""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import MCPServer
from pydantic import AnyHttpUrl

from zettelmem import __version__
from zettelmem.config import Settings
from zettelmem.engine.core import AsyncMemory
from zettelmem.errors import ConfigurationError
from zettelmem.mcp._backend import Backend
from zettelmem.mcp._kg import KnowledgeGraphMap
from zettelmem.mcp._kgindex import KGIndex
from zettelmem.mcp.auth import CLAIM, TokenTable
from zettelmem.mcp.reference import register_reference_tools
from zettelmem.mcp.resources import register_resources
from zettelmem.mcp.verbs import register_verbs
from zettelmem.models import Scope

__all__ = ["ScopeTokenVerifier", "ServerConfig", "build_server", "serve"]

log = logging.getLogger(__name__)
INDEX_FILE = "mcp_kg.sqlite"

INSTRUCTIONS = (
    "zettelmem is a long-term memory. Use remember/recall for free-text memories (recall says why each hit "
    "matched), or the knowledge-graph tools (create_entities, add_observations, create_relations, search_nodes, "
    "open_nodes, read_graph) exactly as with the reference memory server; both views share one memory."
)


@dataclass(frozen=True)
class ServerConfig:
    """How ``zettelmem mcp`` runs."""

    transport: Literal["stdio", "http"] = "stdio"
    host: str = "127.0.0.1"
    port: int = 8765
    scope: Scope = field(default_factory=Scope)
    tokens: Path | None = None  # required over HTTP unless no_auth
    no_auth: bool = False  # HTTP without tokens: loopback only


class ScopeTokenVerifier:
    """The SDK's ``TokenVerifier``: a token from the tokens file -> an access token carrying its scope."""

    def __init__(self, table: TokenTable) -> None:
        self.table = table

    async def verify_token(self, token: str) -> AccessToken | None:
        scope = self.table.scope_of(token)
        if scope is None:
            return None
        return AccessToken(token=token, client_id=str(scope), scopes=[], claims={CLAIM: scope.key})


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def build_server(mem: AsyncMemory, config: ServerConfig, index: KGIndex | None = None) -> MCPServer:
    """An MCP server over ``mem`` (tools, resources, and token auth over HTTP).

    ``index`` is the knowledge-graph name index (default: ``<home>/mcp_kg.sqlite``,
    left open for the life of the process).
    """
    table: TokenTable | None = None
    if config.transport == "http":
        if config.tokens is not None:
            table = TokenTable.load(config.tokens, config.scope)
        elif not config.no_auth:
            raise ConfigurationError("--transport http needs --tokens FILE (or --no-auth, on a loopback address)")
        elif not _is_loopback(config.host):
            raise ConfigurationError(f"--no-auth serves anyone who can reach {config.host}: "
                                     "bind a loopback address or give --tokens")
    base = f"http://{config.host}:{config.port}"
    server = MCPServer(
        name="zettelmem", title="zettelmem memory", version=__version__, instructions=INSTRUCTIONS,
        token_verifier=ScopeTokenVerifier(table) if table is not None else None,
        auth=AuthSettings(issuer_url=AnyHttpUrl(base), resource_server_url=AnyHttpUrl(f"{base}/mcp")) if table is not None else None,
        log_level="WARNING",
    )
    index = index or KGIndex(Path(mem.settings.home) / INDEX_FILE)
    backend = Backend(mem=mem, kg=KnowledgeGraphMap(mem, index), bound=config.scope, authenticated=table is not None)
    register_reference_tools(server, backend)
    register_verbs(server, backend)
    register_resources(server, backend)
    return server


async def serve(settings: Settings, config: ServerConfig) -> None:
    """Open the memory, serve until the client or a signal ends it, close the memory."""
    mem = AsyncMemory(settings)
    index: KGIndex | None = None
    try:
        index = KGIndex(Path(mem.settings.home) / INDEX_FILE)
        server = build_server(mem, config, index)
        if config.transport == "stdio":
            await server.run_stdio_async()
        else:
            log.warning("zettelmem MCP server on http://%s:%d/mcp", config.host, config.port)
            await server.run_streamable_http_async(host=config.host, port=config.port)
    finally:
        if index is not None:
            index.close()
        await mem.aclose()
