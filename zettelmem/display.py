"""Rich display in Jupyter: HTML for notes, search hits, histories and subgraphs.

``Note._repr_html_`` and ``SearchHit._repr_html_`` render through the stdlib-only
leaf :mod:`zettelmem._cards`, so a note or a hit shown in a notebook cell renders
as a card. Lists render with :func:`notes_html`, :func:`hits_html` and
:func:`changes_html`; a graph renders as the interactive viewer with
:class:`GraphView`. Every value is HTML-escaped.
"""

from __future__ import annotations

import html
from typing import Any

from zettelmem._cards import HTML, changes_html, explain, hit_html, hits_html, note_html, notes_html, reason_text

__all__ = [
    "HTML",
    "GraphView",
    "changes_html",
    "explain",
    "hit_html",
    "hits_html",
    "note_html",
    "notes_html",
    "reason_text",
]


class GraphView:
    """A graph shown as the interactive viewer (inside an iframe) in a notebook.

    Example:
        >>> from zettelmem.export import to_networkx          # doctest: +SKIP
        >>> GraphView(to_networkx(mem, scope, note_ids=[nid], depth=2))  # doctest: +SKIP
    """

    def __init__(self, graph: Any, *, height: int = 520, title: str | None = None) -> None:
        self.graph = graph
        self.height = height
        self.title = title

    def _repr_html_(self) -> str:
        from zettelmem.export._formats import render_html

        doc = render_html(self.graph, self.title)
        return (f'<iframe srcdoc="{html.escape(doc, quote=True)}" style="width:100%;height:{int(self.height)}px;'
                f'border:1px solid #ddd;border-radius:8px" sandbox="allow-scripts"></iframe>')
