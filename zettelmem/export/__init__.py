"""Graph exports in NetworkX's vocabulary.

Build a ``networkx.MultiDiGraph`` of a memory with :func:`to_networkx`, then
write it with ``to_graphml``, ``to_gexf``, ``to_node_link`` (JSON),
``to_cytoscape`` (Cytoscape.js JSON), ``to_mermaid``, ``to_dot`` or ``to_html``
(a standalone interactive viewer). Each writer takes the graph (or a memory,
with ``scope``/``note_ids``/``depth``) and a destination: a path, written
atomically, or a text or binary file object. Failures raise
:class:`~zettelmem.errors.ExportError`::

    from zettelmem.export import to_html, to_networkx
    g = to_networkx(mem, scope)
    to_html(g, "memory.html")

GraphML and GEXF carry scalars only: lists are written as ``"; "``-joined text
plus a ``<name>_json`` attribute holding the exact list (see
:func:`flatten_for_xml`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import networkx as nx

from zettelmem.errors import ExportError
from zettelmem.export._formats import (
    cytoscape_data,
    dumps_json,
    flatten_for_xml,
    node_link_data,
    render_dot,
    render_gexf,
    render_graphml,
    render_html,
    render_mermaid,
)
from zettelmem.export._graph import TYPE_COLORS, graph_from, graph_store, to_networkx
from zettelmem.export._io import Destination, write_export
from zettelmem.models import Scope

__all__ = [
    "FORMATS",
    "TYPE_COLORS",
    "Destination",
    "GraphSource",
    "cytoscape_data",
    "export",
    "flatten_for_xml",
    "graph_from",
    "node_link_data",
    "to_cytoscape",
    "to_dot",
    "to_gexf",
    "to_graphml",
    "to_html",
    "to_mermaid",
    "to_networkx",
    "to_node_link",
]

#: A graph from :func:`to_networkx`, or a ``Memory``/``AsyncMemory`` to build one from.
GraphSource = Any


def _graph(source: GraphSource, scope: Scope | None, note_ids: Sequence[str] | None,
           depth: int) -> nx.MultiDiGraph:
    if isinstance(source, nx.Graph):
        if not source.is_directed() or not source.is_multigraph():
            raise ExportError("exports take a networkx.MultiDiGraph (see zettelmem.export.to_networkx)")
        return source
    try:
        graph_store(source)
    except TypeError:
        raise ExportError(f"cannot export {type(source).__name__}: pass a Memory or a MultiDiGraph") from None
    return to_networkx(source, scope, note_ids=note_ids, depth=depth)


def to_graphml(source: GraphSource, dest: Destination, *, scope: Scope | None = None,
               note_ids: Sequence[str] | None = None, depth: int = 1) -> None:
    """Write GraphML; read it back with ``nx.read_graphml(path, force_multigraph=True)``."""
    g = _graph(source, scope, note_ids, depth)
    write_export(lambda: render_graphml(g), dest, "GraphML")


def to_gexf(source: GraphSource, dest: Destination, *, scope: Scope | None = None,
            note_ids: Sequence[str] | None = None, depth: int = 1) -> None:
    """Write GEXF 1.2 (Gephi); read it back with ``nx.read_gexf(path)``."""
    g = _graph(source, scope, note_ids, depth)
    write_export(lambda: render_gexf(g), dest, "GEXF")


def to_node_link(source: GraphSource, dest: Destination, *, scope: Scope | None = None,
                 note_ids: Sequence[str] | None = None, depth: int = 1) -> None:
    """Write node-link JSON; read it back with ``nx.node_link_graph(data, edges="edges")``."""
    g = _graph(source, scope, note_ids, depth)
    write_export(lambda: dumps_json(node_link_data(g)), dest, "node-link JSON")


def to_cytoscape(source: GraphSource, dest: Destination, *, scope: Scope | None = None,
                 note_ids: Sequence[str] | None = None, depth: int = 1) -> None:
    """Write Cytoscape.js JSON (``cy.add(data.elements)``); ``nx.cytoscape_graph`` reads it."""
    g = _graph(source, scope, note_ids, depth)
    write_export(lambda: dumps_json(cytoscape_data(g)), dest, "Cytoscape JSON")


def to_mermaid(source: GraphSource, dest: Destination, *, scope: Scope | None = None,
               note_ids: Sequence[str] | None = None, depth: int = 1) -> None:
    """Write a Mermaid flowchart (paste into Markdown inside a ``mermaid`` code block)."""
    g = _graph(source, scope, note_ids, depth)
    write_export(lambda: render_mermaid(g), dest, "Mermaid")


def to_dot(source: GraphSource, dest: Destination, *, scope: Scope | None = None,
           note_ids: Sequence[str] | None = None, depth: int = 1) -> None:
    """Write Graphviz DOT (``dot -Tsvg memory.dot > memory.svg``)."""
    g = _graph(source, scope, note_ids, depth)
    write_export(lambda: render_dot(g), dest, "DOT")


def to_html(source: GraphSource, dest: Destination, *, scope: Scope | None = None,
            note_ids: Sequence[str] | None = None, depth: int = 1, title: str | None = None) -> None:
    """Write a standalone interactive HTML viewer (one file, no network access)."""
    g = _graph(source, scope, note_ids, depth)
    write_export(lambda: render_html(g, title), dest, "HTML")


#: Writer of each format name the CLI accepts.
FORMATS: dict[str, Callable[..., None]] = {
    "graphml": to_graphml,
    "gexf": to_gexf,
    "json": to_node_link,
    "cytoscape": to_cytoscape,
    "mermaid": to_mermaid,
    "dot": to_dot,
    "html": to_html,
}


def export(source: GraphSource, fmt: str, dest: Destination, **kwargs: Any) -> None:
    """Write ``source`` in format ``fmt`` (a key of :data:`FORMATS`)."""
    try:
        writer = FORMATS[fmt]
    except KeyError:
        raise ExportError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}") from None
    writer(source, dest, **kwargs)
