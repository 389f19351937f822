"""HTML cards and reason text for notes, search hits and histories (a leaf: stdlib only).

Models call it for their notebook display (``Note._repr_html_``,
``SearchHit._repr_html_``) and the CLI, :mod:`zettelmem.display` and the
LangGraph tools word search reasons with :func:`reason_text`, so this module
imports nothing of zettelmem at run time (types only), and anything may import
it. Every value is HTML-escaped.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from zettelmem.engine.results import Reason, SearchHit
    from zettelmem.models import Change, Note

__all__ = [
    "HTML",
    "OTHER_COLOR",
    "TYPE_COLORS",
    "changes_html",
    "explain",
    "hit_html",
    "hits_html",
    "note_html",
    "notes_html",
    "reason_text",
]

#: Colour of each memory type, shared by every visual export, the CLI and the notebooks.
TYPE_COLORS: dict[str, str] = {
    "episodic": "#4e79a7",
    "semantic": "#59a14f",
    "procedural": "#f28e2b",
    "core": "#e15759",
    "resource": "#b07aa1",
}
OTHER_COLOR = "#9c9c9c"

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


def hit_html(hit: SearchHit, labels: Mapping[str, str] | None = None) -> str:
    """One search hit: the note card plus its score and why it was returned."""
    reasons = "".join(f"<li>{_e(reason_text(r, labels))}</li>" for r in hit.why)
    return (f'{_CSS}<div class="zm"><div><b>score {hit.score:.4f}</b></div>{_card_body(hit.note)}'
            f'<div class="m">why:</div><ul class="m" style="margin:0">{reasons}</ul></div>')


def reason_text(reason: Reason, labels: Mapping[str, str] | None = None) -> str:
    """One search reason in words, the same in the CLI, notebooks and agent tools.

    A graph reason names the note it came through (``labels``: note id -> name;
    else the id's first 8 characters).
    """
    score = reason.score or 0.0
    if reason.kind == "graph":
        rel = reason.relation.value if reason.relation else "link"
        via = (labels or {}).get(str(reason.via), str(reason.via)[:8])
        return f"graph: linked from {via} ({rel}, weight {reason.weight or 0:.2f})"
    if reason.kind == "step":
        return _step_text(reason, labels or {})
    if reason.kind == "dense":
        return f"dense #{reason.rank} (cosine {score:.3f})"
    if reason.kind == "lexical":
        return f"lexical #{reason.rank} (BM25 {score:.3f})"
    if reason.kind == "thread":
        return f"thread #{reason.rank} (BM25 with the turn it answers or follows {score:.3f})"
    if reason.kind == "entity":
        return f"entity: names {reason.via}"
    if reason.kind == "superseded":
        return f"superseded: closed, ranked below current notes (score x{score:g})"
    if reason.kind == "cold":
        return f"cold: rarely read, demoted by a consolidate pass (score x{score:g})"
    return f"{reason.kind} #{reason.rank} ({score:.3f})"


def _step_text(reason: Reason, labels: Mapping[str, str]) -> str:
    """A multi-step reason: the hop that reached the note and the path before it."""
    if reason.hop == "feedback":
        return f"step {reason.rank}: query fed back with {reason.via} (score {reason.score or 0:.3f})"

    def name(i: str) -> str:
        return labels.get(i, i[:8])

    via = name(str(reason.via))
    hop = {"topic": f"via topic note {via}", "member": f"topic note over {via}"}.get(
        reason.hop or "", f"via link {reason.relation.value if reason.relation else 'link'} from {via}")
    walked = " → ".join(name(i) for i in [*(reason.path or []), str(reason.via)])
    return f"step {reason.rank}: {hop} (cosine {reason.score or 0:.3f}; path {walked})"


def explain(reasons: Iterable[Reason], labels: Mapping[str, str] | None = None) -> str:
    """A hit's reasons on one line, ``;``-separated."""
    return "; ".join(reason_text(r, labels) for r in reasons)


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


def hits_html(hits: Sequence[SearchHit], labels: Mapping[str, str] | None = None) -> HTML:
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
