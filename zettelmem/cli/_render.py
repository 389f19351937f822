"""Rich tables and panels for notes, links, changes, search hits and stats.

Every user value goes in as :class:`rich.text.Text`, so brackets in a memory are
printed, never read as console markup.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from rich import box
from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from zettelmem._cards import TYPE_COLORS, reason_text
from zettelmem.engine.results import SearchHit
from zettelmem.errors import NotFound
from zettelmem.models import Change, Link, Note, Scope

__all__ = [
    "change_ids",
    "changes_table",
    "diff_text",
    "hits_table",
    "labels_for",
    "links_table",
    "note_panel",
    "notes_table",
    "reason_text",
    "short",
    "stats_table",
    "who",
]


def short(text: str, width: int = 70) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


def who(note: Note) -> str:
    """``Speaker s.t`` (session.turn) or the short id."""
    p = note.provenance
    where = f"{p.session}.{p.turn}" if p.session is not None and p.turn is not None else (p.session or "")
    return " ".join(x for x in (p.speaker or "", where) if x) or note.id[:8]


def _type_text(note: Note) -> Text:
    return Text(note.memory_type.value, style=TYPE_COLORS.get(note.memory_type.value, ""))


def _join(items: Iterable[str], limit: int | None = None) -> Text:
    items = list(items)
    more = len(items) - limit if limit is not None and len(items) > limit else 0
    shown = items[:limit] if limit is not None else items
    return Text(", ".join(shown) + (f" +{more}" if more else ""))


def notes_table(notes: Sequence[Note], title: str | None = None, *, content: bool = True,
                max_labels: int | None = 6) -> Table:
    t = Table(title=title, box=box.SIMPLE_HEAD, show_lines=False, title_justify="left")
    t.add_column("id", style="cyan", no_wrap=True)
    t.add_column("who", no_wrap=True)
    t.add_column("type", no_wrap=True)
    if content:
        t.add_column("content", ratio=3)
    t.add_column("keywords", ratio=2)
    t.add_column("tags", ratio=2)
    t.add_column("context", ratio=2)
    t.add_column("v", justify="right")
    t.add_column("built_by", no_wrap=True, style="dim")
    for n in notes:
        row: list[Any] = [n.id[:8], Text(who(n)), _type_text(n)]
        if content:
            row.append(Text(short(n.content, 90)))
        row += [_join(n.keywords, max_labels), _join(n.tags, max_labels), Text(short(n.context, 80)),
                str(n.version), n.built_by.agent]
        t.add_row(*row)
    return t


def note_panel(note: Note) -> Panel:
    meta = Table.grid(padding=(0, 2))
    meta.add_column(style="dim", no_wrap=True)
    meta.add_column()
    p = note.provenance
    rows: list[tuple[str, Any]] = [
        ("id", note.id),
        ("type", _type_text(note)),
        ("keywords", _join(note.keywords)),
        ("tags", _join(note.tags)),
        ("entities", _join(note.entities)),
        ("context", note.context),
        ("speaker", p.speaker),
        ("session / turn", f"{p.session} / {p.turn}" if p.session is not None else None),
        ("source", p.source),
        ("event time", note.event_time.isoformat() if note.event_time else None),
        ("valid", f"{note.valid_from.isoformat() if note.valid_from else '…'} → "
                  f"{note.valid_to.isoformat() if note.valid_to else 'now'}"),
        ("version", str(note.version)),
        ("built by", str(note.built_by)),
        ("scope", str(note.scope)),
        ("created", note.created_at.isoformat(timespec="seconds")),
        ("metadata", ", ".join(f"{k}={v}" for k, v in note.metadata.items()) if note.metadata else None),
    ]
    for name, value in rows:
        if value is not None and value != "":
            meta.add_row(name, value if isinstance(value, Text) else Text(str(value)))
    return Panel(Group(Text(note.content), Text(""), meta), title=f"note {note.id[:8]}", title_align="left")


def links_table(links: Sequence[Link], labels: Mapping[str, str], title: str | None = None,
                focus: str | None = None) -> Table:
    """Links, each end named by ``labels`` (note id → label)."""
    t = Table(title=title, box=box.SIMPLE_HEAD, title_justify="left")
    t.add_column("from", ratio=2)
    t.add_column("relation", no_wrap=True, style="magenta")
    t.add_column("weight", justify="right", no_wrap=True)
    t.add_column("to", ratio=2)
    t.add_column("rationale", ratio=3, style="dim")
    for lk in links:
        src = "this note" if lk.source == focus else labels.get(lk.source, lk.source[:8])
        dst = "this note" if lk.target == focus else labels.get(lk.target, lk.target[:8])
        t.add_row(Text(src), lk.relation.value, f"{lk.weight:.2f}", Text(dst), Text(lk.rationale))
    return t


def _value(v: Any) -> str:
    if isinstance(v, list):
        return "[" + ", ".join(str(x) for x in v) + "]"
    return repr(v) if isinstance(v, str) else str(v)


def diff_text(change: Change) -> Text:
    """Field by field: lists as ``+added −removed``, other values as ``before → after``."""
    out = Text()
    for name in change.fields:
        before, after = change.before.get(name), change.after.get(name)
        if out:
            out.append("\n")
        out.append(f"{name}: ", style="bold")
        if isinstance(before, list | None) and isinstance(after, list):
            old = list(before or [])
            added = [x for x in after if x not in old]
            removed = [x for x in old if x not in after]
            parts = [("+ " + str(x), "green") for x in added] + [("− " + str(x), "red") for x in removed]
            if not parts:
                out.append("reordered", style="dim")
            for i, (txt, style) in enumerate(parts):
                out.append(("  " if i else "") + txt, style=style)
            out.append("\n  ")
            out.append(f"{_value(old)} → {_value(after)}", style="dim")
        else:
            out.append(_value(before), style="red")
            out.append(" → ")
            out.append(_value(after), style="green")
    return out


def changes_table(changes: Sequence[Change], labels: Mapping[str, str] | None = None,
                  title: str | None = None, show_note: bool = False) -> Table:
    labels = labels or {}
    t = Table(title=title, box=box.SIMPLE_HEAD, title_justify="left", show_lines=True)
    t.add_column("change id", style="cyan", no_wrap=True)
    if show_note:
        t.add_column("note", ratio=2)
    t.add_column("kind", no_wrap=True)
    t.add_column("version", no_wrap=True)
    t.add_column("diff", ratio=4)
    t.add_column("rationale / trigger", ratio=3)
    for c in changes:
        kind = Text(c.kind, style="red" if c.kind == "rejected" else "green" if c.kind == "evolve" else "yellow")
        why = Text(c.rationale)
        if c.trigger:
            why.append(f"\ntrigger: {labels.get(c.trigger, c.trigger[:8])}", style="dim")
        why.append(f"\n{c.agent} · {c.created_at.isoformat(timespec='seconds')}", style="dim")
        row: list[Any] = [c.id]
        if show_note:
            row.append(Text(labels.get(c.note_id, c.note_id[:8])))
        row += [kind, f"v{c.version_before} → v{c.version_after}", diff_text(c), why]
        t.add_row(*row)
    return t


def hits_table(hits: Sequence[SearchHit], labels: Mapping[str, str] | None = None,
               title: str | None = None) -> Table:
    labels = labels or {}
    t = Table(title=title, box=box.SIMPLE_HEAD, title_justify="left")
    t.add_column("#", justify="right")
    t.add_column("score", justify="right", no_wrap=True)
    t.add_column("id", style="cyan", no_wrap=True)
    t.add_column("who", no_wrap=True)
    t.add_column("content", ratio=3)
    t.add_column("why", ratio=3)
    for i, h in enumerate(hits, 1):
        why = Text("\n".join(reason_text(r, labels) for r in h.why), style="dim")
        t.add_row(str(i), f"{h.score:.4f}", h.note.id[:8], Text(who(h.note)), Text(short(h.note.content, 120)), why)
    return t


def stats_table(stats: Mapping[str, Any]) -> Table:
    t = Table(box=box.SIMPLE_HEAD, show_header=False)
    t.add_column(style="dim")
    t.add_column()
    llm = stats.get("llm") or {}
    stored = stats.get("llm_stored") or {}
    for key, value in stats.items():
        if key not in ("llm", "llm_stored"):
            t.add_row(key.replace("_", " "), Text(str(value)))
    for key in ("calls", "failures", "fallbacks"):  # every run that wrote to this store
        t.add_row(f"llm {key} (stored, all runs)", str(stored.get(key, 0)))
    if stored.get("last_failure"):
        t.add_row("llm last failure", Text(f"{stored['last_failure']} ({stored.get('last_failure_at', '?')})"))
    t.add_row("llm calls (this process)", str(llm.get("calls", 0)))
    t.add_row("llm tokens (prompt / completion)",
              f"{llm.get('prompt_tokens', 0)} / {llm.get('completion_tokens', 0)}")
    for key in sorted(set(llm) - {"calls", "prompt_tokens", "completion_tokens"}):
        t.add_row(f"llm {key}", str(llm[key]))
    return t


def labels_for(mem: Any, scope: Scope, ids: Iterable[str | None]) -> dict[str, str]:
    """Note id → ``Speaker s.t · start of content`` for the given ids (link ends, triggers, ...)."""
    out: dict[str, str] = {}
    for note_id in dict.fromkeys(i for i in ids if i):
        try:
            n = mem.get(note_id, scope)
        except NotFound:
            continue
        out[n.id] = who(n) + " · " + short(n.content, 40)
    return out


def change_ids(changes: Iterable[Change]) -> list[str | None]:
    return [i for c in changes for i in (c.note_id, c.trigger)]
