"""MCP resources: a note by URI, the scope's graph as JSON and as the standalone HTML viewer.

* ``zettelmem://note/{note_id}`` — one note with its links (JSON);
* ``zettelmem://graph`` — the scope's notes and links, node-link JSON (NetworkX's format);
* ``zettelmem://graph.html`` — the same graph in the interactive viewer (one HTML file);
* ``memory://knowledge-graph`` — the reference server's resource: entities and relations.

Each is read in the scope of the request (the token's over HTTP).
"""

from __future__ import annotations

import asyncio
import io
import json

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceNotFoundError

from zettelmem.errors import NotFound, ZettelmemError
from zettelmem.mcp._backend import Backend
from zettelmem.mcp.models import LinkOut, NoteOut
from zettelmem.models import Scope

__all__ = ["register_resources"]


def register_resources(server: MCPServer, backend: Backend) -> None:
    """Add the note, graph, viewer and knowledge-graph resources to ``server``."""
    mem = backend.mem

    @server.resource("zettelmem://note/{note_id}", name="note", title="A note",
                     description="One note (content, attributes, version) and its links", mime_type="application/json")
    async def note(note_id: str) -> str:
        scope = backend.scope()
        try:
            found = await mem.get(note_id, scope)
            links = await mem.links(note_id, scope)
        except NotFound as exc:
            raise ResourceNotFoundError(str(exc)) from exc
        except ZettelmemError as exc:  # e.g. a malformed id
            raise ResourceNotFoundError(f"{exc} [{type(exc).__name__}]") from exc
        data = {"note": NoteOut.of(found).model_dump(), "links": [LinkOut.of(lk).model_dump() for lk in links]}
        return json.dumps(data, ensure_ascii=False, indent=2)

    @server.resource("zettelmem://graph", name="graph", title="Memory graph (JSON)",
                     description="The scope's notes and links as node-link JSON", mime_type="application/json")
    async def graph() -> str:
        scope = backend.scope()  # resolved here: the worker thread has no request context
        return await asyncio.to_thread(_export_in, scope, "json")

    @server.resource("zettelmem://graph.html", name="graph-viewer", title="Memory graph (viewer)",
                     description="The scope's graph in the standalone interactive HTML viewer", mime_type="text/html")
    async def graph_html() -> str:
        scope = backend.scope()
        return await asyncio.to_thread(_export_in, scope, "html")

    def _export_in(scope: Scope, fmt: str) -> str:
        from zettelmem.export import to_html, to_node_link

        buf = io.StringIO()
        if fmt == "html":
            to_html(mem, buf, scope=scope, title=f"zettelmem: {scope}")
        else:
            to_node_link(mem, buf, scope=scope)
        return buf.getvalue()

    @server.resource("memory://knowledge-graph", name="knowledge-graph", title="Knowledge Graph",
                     description="The full knowledge graph with all entities and relations",
                     mime_type="application/json")
    async def knowledge_graph() -> str:
        kg = await backend.kg.read_graph(backend.scope())
        return json.dumps(kg.model_dump(by_alias=True), ensure_ascii=False, indent=2)

