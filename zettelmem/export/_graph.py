"""Build a ``networkx.MultiDiGraph`` from a memory (a whole scope or a neighbourhood).

Nodes are note ids; edges are links keyed by their relation (a pair of notes can
be linked by several relations). Attribute values are plain JSON values: strings,
numbers, lists of strings, ISO-8601 times; unset optional values are omitted.

Evolution travels with the graph: each node carries ``history`` (every change to
the note, oldest first: kind, versions, fields with their values before and
after, rationale, trigger, time), ``changes`` (how many were applied) and
``history_summary`` (one line per change, for tools that show scalars); each
edge carries its ``relation``, ``weight``, ``rationale`` and a ``color`` per
relation (:data:`RELATION_COLORS`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import networkx as nx

from zettelmem._cards import OTHER_COLOR, TYPE_COLORS
from zettelmem.errors import InvalidInput, NoteNotFound
from zettelmem.models import Change, Link, Note, Relation, Scope
from zettelmem.stores.base import GetChanges, GraphStore

__all__ = ["RELATION_COLORS", "TYPE_COLORS", "graph_from", "graph_store", "history_records", "link_attrs",
           "node_attrs", "to_networkx"]

#: Colour of each link relation (edges in the viewer, DOT and the exported ``color``).
RELATION_COLORS: dict[str, str] = {
    Relation.ANSWERS.value: "#d62728",
    Relation.FOLLOWS.value: "#8c8c8c",
    Relation.SAME_ENTITY.value: "#9467bd",
    Relation.ELABORATES.value: "#2ca02c",
    Relation.SUPPORTS.value: "#17becf",
    Relation.RELATES_TO.value: "#1f77b4",
    Relation.CONTRADICTS.value: "#ff7f0e",
    Relation.SUPERSEDES.value: "#8c564b",
}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def graph_store(memory: Any) -> GraphStore:
    """The graph store behind a ``Memory`` (``.aio.graph``) or an ``AsyncMemory`` (``.graph``)."""
    core = getattr(memory, "aio", memory)
    store = getattr(core, "graph", None)
    if not isinstance(store, GraphStore):
        raise TypeError(f"expected a Memory or AsyncMemory, got {type(memory).__name__}")
    return store


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def node_label(note: Note, width: int = 48) -> str:
    """A short one-line label: ``speaker: start of the content…``."""
    text = " ".join(_CONTROL.sub(" ", note.content).split())
    if len(text) > width:
        text = text[: width - 1].rstrip() + "…"
    speaker = note.provenance.speaker
    return f"{speaker}: {text}" if speaker and not text.startswith(f"{speaker}:") else text


def history_records(changes: Iterable[Change]) -> list[dict[str, Any]]:
    """A note's changes as plain records, oldest first (rejected proposals included, marked as such)."""
    out = []
    for c in sorted(changes, key=lambda c: (c.created_at, c.version_after)):
        d = c.model_dump(mode="json")
        out.append({"id": c.id, "kind": c.kind, "version_before": c.version_before, "version_after": c.version_after,
                    "fields": c.fields, "before": d["before"], "after": d["after"], "rationale": c.rationale,
                    "trigger": c.trigger, "agent": str(c.agent), "at": c.created_at.isoformat()})
    return out


def _summary_line(rec: dict[str, Any]) -> str:
    parts = []
    for f in rec["fields"]:
        before, after = rec["before"].get(f), rec["after"].get(f)
        if isinstance(after, list) and isinstance(before, list | None):
            added = [x for x in after if x not in (before or [])]
            removed = [x for x in (before or []) if x not in after]
            parts.append(f + " " + " ".join([*(f"+{x}" for x in added), *(f"-{x}" for x in removed)]))
        else:
            parts.append(f"{f} {before!r} -> {after!r}")
    where = f"v{rec['version_before']}->v{rec['version_after']}" if rec["kind"] != "rejected" else "rejected"
    return f"{rec['at'][:19]} {where} {rec['kind']}: " + "; ".join(parts)


def node_attrs(note: Note, history: Sequence[Change] = ()) -> dict[str, Any]:
    """The node attributes of one note (plain values; unset optional values left out)."""
    prov = note.provenance
    records = history_records(history)
    attrs: dict[str, Any] = {
        "label": node_label(note),
        "content": note.content,
        "context": note.context,
        "memory_type": note.memory_type.value,
        "keywords": list(note.keywords),
        "tags": list(note.tags),
        "entities": list(note.entities),
        "version": note.version,
        "built_by": str(note.built_by),
        "built_by_kind": note.built_by.kind,
        "scope": str(note.scope),
        "created_at": _iso(note.created_at),
        "updated_at": _iso(note.updated_at),
        "event_time": _iso(note.event_time),
        "valid_from": _iso(note.valid_from),
        "valid_to": _iso(note.valid_to),
        "speaker": prov.speaker,
        "session": prov.session,
        "turn": prov.turn,
        "source": prov.source,
        "metadata": dict(note.metadata) if note.metadata else None,
        "color": TYPE_COLORS.get(note.memory_type.value, OTHER_COLOR),
        "changes": sum(r["kind"] != "rejected" for r in records),
        "history": records,
        "history_summary": "\n".join(_summary_line(r) for r in records),
    }
    return {k: v for k, v in attrs.items() if v is not None}


def link_attrs(link: Link) -> dict[str, Any]:
    """The edge attributes of one link."""
    return {
        "relation": link.relation.value,
        "weight": float(link.weight),
        "rationale": link.rationale,
        "created_by": str(link.created_by),
        "created_at": link.created_at.isoformat(),
        "color": RELATION_COLORS.get(link.relation.value, OTHER_COLOR),
    }


def graph_from(notes: Iterable[Note], links: Iterable[Link], *, name: str = "zettelmem",
               scope: Scope | None = None, histories: Mapping[str, Sequence[Change]] | None = None) -> nx.MultiDiGraph:
    """A MultiDiGraph of these notes and of the links between them (others are dropped).

    ``histories`` (note id -> its changes) adds each note's evolution to its node.
    """
    from zettelmem import __version__

    g = nx.MultiDiGraph(name=name, zettelmem_version=__version__)
    if scope is not None:
        g.graph["scope"] = str(scope)
    for note in notes:
        g.add_node(note.id, **node_attrs(note, (histories or {}).get(note.id, ())))
    for link in links:
        if link.source in g and link.target in g:
            g.add_edge(link.source, link.target, key=link.relation.value, **link_attrs(link))
    return g


def to_networkx(memory: Any, scope: Scope | None = None, *,
                note_ids: Sequence[str] | None = None, depth: int = 1) -> nx.MultiDiGraph:
    """The memory graph of ``scope`` as a ``networkx.MultiDiGraph``.

    Args:
        memory: a :class:`~zettelmem.Memory` or :class:`~zettelmem.AsyncMemory`
            (read through its graph store, so it works inside a running event loop).
        scope: whose notes; the default scope when omitted.
        note_ids: when given, only the notes within ``depth`` links of these
            (links followed in both directions).
        depth: how many links away from ``note_ids`` to go (0 = the notes alone).

    Raises:
        NoteNotFound: a requested note is not in the scope.
    """
    scope = scope or Scope()
    store = graph_store(memory)
    if note_ids is None:
        notes = store.list_notes(scope)
        links = store.get_links(scope, [n.id for n in notes], "out") if notes else []
        return graph_from(notes, links, scope=scope, histories=_histories(store, scope, [n.id for n in notes]))
    if depth < 0:
        raise InvalidInput(f"depth must be >= 0, not {depth}")
    found = store.get_notes(scope, list(note_ids))
    missing = [i for i, n in zip(note_ids, found, strict=True) if n is None]
    if missing:
        raise NoteNotFound(f"no note {missing[0]!r} in scope {scope}")
    keep: dict[str, Note] = {n.id: n for n in found if n is not None}
    frontier = set(keep)
    for _ in range(depth):
        if not frontier:
            break
        step = store.get_links(scope, sorted(frontier), "both")
        new = sorted({e for lk in step for e in (lk.source, lk.target)} - set(keep))
        for n in store.get_notes(scope, new) if new else []:
            if n is not None:
                keep[n.id] = n
        frontier = set(new)
    # every link among the kept notes, including those between notes of the outer ring
    links = store.get_links(scope, sorted(keep), "out") if keep else []
    return graph_from(keep.values(), links, scope=scope, histories=_histories(store, scope, sorted(keep)))


def _histories(store: GraphStore, scope: Scope, ids: Sequence[str]) -> dict[str, list[Change]]:
    """The changes of these notes, in one store batch."""
    if not ids:
        return {}
    found = store.batch([GetChanges(scope, note_id=i) for i in ids])
    return {i: list(cs) for i, cs in zip(ids, found, strict=True) if cs}
