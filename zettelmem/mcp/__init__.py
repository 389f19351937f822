"""zettelmem as an MCP server (``zettelmem mcp``), on the official ``mcp`` Python SDK.

* tools: the reference knowledge-graph memory server's nine tools, same shapes
  (:mod:`zettelmem.mcp.reference`), and zettelmem's verbs (:mod:`zettelmem.mcp.verbs`),
  each with input/output schemas and read-only/destructive/idempotent annotations;
* resources: ``zettelmem://note/{id}``, ``zettelmem://graph`` (JSON),
  ``zettelmem://graph.html`` (viewer), ``memory://knowledge-graph``;
* scope: the server's, or over HTTP the bearer token's (:mod:`zettelmem.mcp.auth`).

Needs the ``mcp`` extra (``pip install zettelmem[mcp]``).
"""

from zettelmem.mcp.server import ScopeTokenVerifier, ServerConfig, build_server, serve

__all__ = ["ScopeTokenVerifier", "ServerConfig", "build_server", "serve"]
