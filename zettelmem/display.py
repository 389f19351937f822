"""Rich display in Jupyter: HTML for notes, search hits, histories and subgraphs.

``Note._repr_html_`` and ``SearchHit._repr_html_`` delegate here, so a note or a
hit shown in a notebook cell renders as a card. Lists render with
:func:`notes_html`, :func:`hits_html` and :func:`changes_html`; a graph renders
as the interactive viewer with :class:`GraphView`. Every value is HTML-escaped.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from zettelmem.export._graph import OTHER_COLOR, TYPE_COLORS
from zettelmem.models import Change, Note

__all__ = ["HTML", "GraphView", "changes_html", "hit_html", "hits_html", "note_html", "notes_html", "reason_text"]

_CSS = (
    "<style>.zm{font:13px/1.4 system-ui,sans-serif;border:1px solid #ddd;border-radius:8px;padding:8px 10px;"
    "margin:4px 0;max-width:900px}.zm .c{white-space:pre-wrap;margin:4px 0 6px}.zm .m{color:#777;font-size:12px}"
    ".zm .chip{display:inline-block;padding:0 6px;margin:1px 2px 1px 0;border-radius:9px;background:#eef;"
    "font-size:12px}.zm .chip.t{background:#efe}.zm .ty{color:#fff;border-radius:4px;padding:0 5px;font-size:11px}"
    "table.zmt{border-collapse:collapse;font:12px system-ui,sans-serif}table.zmt td,table.zmt th{border-bottom:"
    "1px solid #eee;padding:3px 6px;text-align:left;vertical-align:top}table.zmt .c{white-space:pre-wrap}"
    ".zm-add{color:#1a7f37}.zm-del{color:#cf222e;text-decoration:line-through}</style>"
)


class HTML:
    """A ready HTML fragment that notebooks display as such."""

    def __init__(self, markup: str) -> None:
        self.markup = markup

    def _repr_html_(self) -> str:
        return self.markup

    def __str__(self) -> str:
        return self.markup


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _chips(items: Iterable[str], cls: str = "") -> str:
    out = "".join(f'<span class="chip {cls}">{_e(x)}</span>' for x in items)
    return out or '<span class="m">—</span>'


def _type_badge(note: Note) -> str:
    color = TYPE_COLORS.get(note.memory_type.value, OTHER_COLOR)
    return f'<span class="ty" style="background:{color}">{_e(note.memory_type.value)}</span>'


def _who(note: Note) -> str:
    p = note.provenance
    parts = [p.speaker or "", f"session {p.session}" if p.session else "", f"turn {p.turn}" if p.turn else ""]
    return " · ".join(x for x in parts if x)


def _card_body(note: Note) -> str:
    who = _who(note)
    when = note.event_time.isoformat(sep=" ", timespec="minutes") if note.event_time else ""
    head = " · ".join(_e(x) for x in (note.id[:8], who, when, f"v{note.version}", str(note.built_by)) if x)
    return (
        f'<div>{_type_badge(note)} <span class="m">{head}</span></div>'
        f'<div class="c">{_e(note.content)}</div>'
        f'<div class="m">{_e(note.context)}</div>'
        f"<div>keywords: {_chips(note.keywords)}</div>"
        f'<div>tags: {_chips(note.tags, "t")}</div>'
    )


def note_html(note: Note) -> str:
    """One note as an HTML card."""
    return f'{_CSS}<div class="zm">{_card_body(note)}</div>'


def hit_html(hit: Any, labels: Mapping[str, str] | None = None) -> str:
    """One search hit: the note card plus its score and why it was returned."""
    reasons = "".join(f"<li>{_e(reason_text(r, labels))}</li>" for r in hit.why)
    return (f'{_CSS}<div class="zm"><div><b>score {hit.score:.4f}</b></div>{_card_body(hit.note)}'
            f'<div class="m">why:</div><ul class="m" style="margin:0">{reasons}</ul></div>')


def reason_text(reason: Any, labels: Mapping[str, str] | None = None) -> str:
    """One search reason in words; a graph reason names the note it came through (``labels``: id → name)."""
    if reason.kind == "graph":
        rel = reason.relation.value if reason.relation else "link"
        via = (labels or {}).get(str(reason.via), str(reason.via)[:8])
        return f"graph: linked from {via} ({rel}, weight {reason.weight or 0:.2f})"
    if reason.kind == "dense":
        return f"dense #{reason.rank} (cosine {reason.score or 0:.3f})"
    if reason.kind == "lexical":
        return f"lexical #{reason.rank} (BM25 {reason.score or 0:.3f})"
    return str(reason)


def notes_html(notes: Sequence[Note], *, limit: int | None = None) -> HTML:
    """Notes as an HTML table (id, who, type, content, keywords, tags, context, version, built by)."""
    shown = list(notes)[:limit] if limit else list(notes)
    rows = "".join(
        f"<tr><td><code>{_e(n.id[:8])}</code></td><td>{_e(_who(n))}</td><td>{_type_badge(n)}</td>"
        f'<td class="c">{_e(n.content)}</td><td>{_chips(n.keywords)}</td><td>{_chips(n.tags, "t")}</td>'
        f"<td>{_e(n.context)}</td><td>{n.version}</td><td>{_e(n.built_by.agent)}</td></tr>"
        for n in shown
    )
    more = f'<p class="m">… {len(notes) - len(shown)} more</p>' if len(shown) < len(notes) else ""
    head = "".join(f"<th>{h}</th>" for h in
                   ("id", "who", "type", "content", "keywords", "tags", "context", "v", "built by"))
    return HTML(f'{_CSS}<div class="zm"><table class="zmt"><tr>{head}</tr>{rows}</table>{more}</div>')


def hits_html(hits: Sequence[Any], labels: Mapping[str, str] | None = None) -> HTML:
    """Search hits as cards, best first."""
    return HTML("".join(hit_html(h, labels) for h in hits) or f'{_CSS}<div class="zm m">no hits</div>')


def _diff(change: Change) -> str:
    parts = []
    for name in change.fields:
        before, after = change.before.get(name), change.after.get(name)
        if isinstance(after, list):
            old = list(before or [])
            ins = "".join(f' <span class="zm-add">+{_e(x)}</span>' for x in after if x not in old)
            dels = "".join(f' <span class="zm-del">{_e(x)}</span>' for x in old if x not in after)
            parts.append(f"<b>{_e(name)}</b>:{ins}{dels}")
        else:
            parts.append(f'<b>{_e(name)}</b>: <span class="zm-del">{_e(before)}</span> → '
                         f'<span class="zm-add">{_e(after)}</span>')
    return "<br>".join(parts)


def changes_html(changes: Sequence[Change]) -> HTML:
    """A note's history: kind, versions, diff, rationale, trigger, agent, time."""
    rows = "".join(
        f"<tr><td><code>{_e(c.id[:12])}</code></td><td>{_e(c.kind)}</td>"
        f"<td>v{c.version_before} → v{c.version_after}</td><td>{_diff(c)}</td>"
        f'<td class="c">{_e(c.rationale)}</td><td><code>{_e((c.trigger or "")[:8])}</code></td>'
        f"<td>{_e(c.agent)}</td><td>{_e(c.created_at.isoformat(timespec='seconds'))}</td></tr>"
        for c in changes
    )
    head = "".join(f"<th>{h}</th>" for h in
                   ("change", "kind", "version", "diff", "rationale", "trigger", "agent", "when"))
    body = f'<table class="zmt"><tr>{head}</tr>{rows}</table>' if changes else '<span class="m">no changes</span>'
    return HTML(f'{_CSS}<div class="zm">{body}</div>')


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
