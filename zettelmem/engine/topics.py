"""Keeping topic notes true to their members: erasure, revert and the health check.

Consolidation (:mod:`zettelmem.engine.consolidate`) writes a topic note, its
``summarizes`` links and its ``metadata["members"]`` in one graph transaction;
this module keeps the three in step afterwards.

* **Erasure.** When members are hard-forgotten (or deleted), every topic note that
  summarizes them is rebuilt from the remaining members *in the erasure's own graph
  transaction*: extractive text, keywords, entities and member list recomputed (an
  erasure never waits on a model), one versioned ``consolidate`` Change that names
  no erased text or id, and every earlier Change of the topic note scrubbed the way
  :mod:`~zettelmem.engine.forget` scrubs quoting diffs -- text quoting an erased member
  becomes ``[erased]`` (every past text of the topic note does: an abstractive text
  may paraphrase rather than quote), erased ids leave member lists, labels only
  erased members had leave keyword and entity lists. A topic note left with fewer than two members is
  **dissolved** (deleted with its links and history): a one-member topic note is only
  a copy of that member, its whole history quotes the erased one, and deleting it
  frees the remaining member to join a topic note in a later pass (a closed topic
  note would keep holding it).
* **Revert** of a membership change restores the member list (those still stored),
  the text and the ``summarizes`` links together, in one batch.
* **Check**: :func:`broken_topics` names topic notes whose members and links disagree.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from zettelmem.engine.consolidate import CONSOLIDATOR, MEMBER_CHARS, is_topic, member_vector, summarizes, topic_fields
from zettelmem.engine.erasure import ERASED, scrub
from zettelmem.engine.evolution import USER, with_change
from zettelmem.engine.parts import EngineParts
from zettelmem.engine.pipeline import text_hash
from zettelmem.errors import InvalidInput
from zettelmem.models import Change, Link, Note, Relation, Scope
from zettelmem.stores.base import DeleteLinks, PutChanges, PutLinks, PutNotes
from zettelmem.vectors.base import vector_metadata

__all__ = ["TopicErasure", "broken_topics", "erase_members", "revert_membership"]


@dataclass
class TopicErasure:
    """Topic notes rebuilt without erased members: graph writes for the erasure's one transaction."""

    rebuilt: list[Note] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)  # the rebuilds' Changes and the scrubbed history
    dissolved: list[str] = field(default_factory=list)  # topic notes to delete with the erased members
    handled: set[str] = field(default_factory=set)  # topic notes whose history this erasure rewrote

    def ops(self, scope: Scope) -> list[Any]:
        """The graph ops (before the erasure's ``DeleteNotes``, which must also name :attr:`dissolved`)."""
        return [PutNotes(tuple(self.rebuilt)), PutChanges(scope, tuple(self.changes))] if self.rebuilt else []


def _labels(notes: Sequence[Note]) -> set[str]:
    return {x.casefold() for n in notes for x in (*n.keywords, *n.entities, *n.tags)}


def _scrub_fields(fields: dict[str, Any], ids: set[str], labels: set[str]) -> dict[str, Any]:
    """Erase the text, drop erased ids from member lists and erased-only labels from keyword and entity lists.

    Every past text of the topic note goes: it is derived from the members, and an
    abstractive (LLM) text may paraphrase the erased one rather than quote it.
    """
    out = dict(fields)
    if "content" in out:
        out["content"] = ERASED
    meta = out.get("metadata")
    if isinstance(meta, dict) and isinstance(meta.get("members"), list):
        out["metadata"] = {**meta, "members": [m for m in meta["members"] if m not in ids and m != ERASED]}
    for name in ("keywords", "entities"):
        if isinstance(out.get(name), list):
            out[name] = [v for v in out[name] if not (isinstance(v, str) and v.casefold() in labels)]
    return out


def scrub_topic_change(change: Change, ids: set[str], texts: Sequence[str], labels: set[str]) -> Change | None:
    """A topic note's Change without any trace of the erased members (None when it has none)."""
    base = scrub(change, ids, texts) or change
    clean = base.model_copy(update={"before": _scrub_fields(base.before, ids, labels),
                                    "after": _scrub_fields(base.after, ids, labels)})
    return None if clean == change else clean


async def erase_members(parts: EngineParts, scope: Scope, erased: Sequence[Note],
                        links: Sequence[Link]) -> TopicErasure:
    """Rebuild (or dissolve) the topic notes that summarize any of ``erased``.

    ``links``: the erased notes' links (their ``summarizes`` in-links name the topic
    notes). Vectors of rebuilt topic notes are written here, before the caller's graph
    transaction (like every write path: a crash in between leaves a stale vector that
    ``check --repair`` refreshes); the graph side is returned for that transaction.
    """
    out = TopicErasure()
    ids = {n.id for n in erased}
    topic_ids = sorted({lk.source for lk in links if lk.relation == Relation.SUMMARIZES
                        and lk.target in ids and lk.source not in ids})
    topics = [t for t in await parts.graph.aget_notes(scope, topic_ids) if t is not None and is_topic(t)]
    if not topics:
        return out
    listed = sorted({str(m) for t in topics for m in t.metadata.get("members", []) if m not in ids})
    kept = {n.id: n for n in await parts.graph.aget_notes(scope, listed) if n is not None}
    texts = sorted({t for n in erased for t in (n.content, n.content[:MEMBER_CHARS], n.context) if len(t) >= 8})
    vecs = await asyncio.to_thread(parts.vectors.get_vectors, sorted(kept), scope)
    gone = _labels(erased)
    for topic in topics:
        members = [kept[str(m)] for m in topic.metadata.get("members", []) if str(m) in kept]
        if len(members) < 2:
            out.dissolved.append(topic.id)  # its links and Changes go with it
            continue
        labels = gone - _labels(members)
        for old in await parts.graph.ahistory(scope, topic.id):
            clean = scrub_topic_change(old, ids, texts, labels)
            if clean is not None:
                out.changes.append(clean)
        after = topic_fields(topic, members, parts.settings.agents.max_keywords)
        current = topic.model_dump(mode="json")
        before = _scrub_fields({f: ERASED if f == "content" else current[f] for f in after}, ids, labels)
        change = Change(note_id=topic.id, scope=scope, version_before=topic.version,
                        version_after=topic.version + 1, before=before, after=after,
                        rationale=f"consolidation: a member was erased; rebuilt from the {len(members)} remaining",
                        agent=CONSOLIDATOR, kind="consolidate")
        out.changes.append(change)
        out.rebuilt.append(with_change(topic, change).model_copy(update={"built_by": CONSOLIDATOR}))
        out.handled.add(topic.id)
    if out.rebuilt:
        await _write_vectors(parts, out.rebuilt, vecs, kept)
    return out


async def _write_vectors(parts: EngineParts, topics: Sequence[Note], vecs: dict[str, np.ndarray],
                         notes: dict[str, Note]) -> None:
    """Upsert topic notes' vectors: the mean of their members' (the text's embedding if none is known)."""
    rows = []
    for t in topics:
        members = [notes[str(m)] for m in t.metadata.get("members", []) if str(m) in notes]
        vec = member_vector(vecs, members)
        rows.append(vec if vec is not None else (await parts.embed([t.embedding_text()]))[0])
    metas = [vector_metadata(t, text_hash(t)) for t in topics]
    await asyncio.to_thread(parts.vectors.upsert, [t.id for t in topics], np.stack(rows), metas)


async def revert_membership(parts: EngineParts, change: Change, topic: Note) -> Change:
    """Undo a change of ``topic``'s members: list, text and ``summarizes`` links restored together.

    Members the change lists that are no longer stored are left out (and the text is
    rebuilt from the rest); fewer than two left refuses with :class:`InvalidInput`.
    """
    scope = topic.scope
    listed = [str(m) for m in change.before.get("metadata", {}).get("members", [])]
    members = [n for n in await parts.graph.aget_notes(scope, listed) if n is not None]
    if len(members) < 2:
        raise InvalidInput(f"cannot revert {change.id}: fewer than two of the members it restores are stored "
                           "(nothing was changed)")
    intact = len(members) == len(listed) and change.before.get("content") not in (None, ERASED)
    fields = topic_fields(topic, members, parts.settings.agents.max_keywords,
                          content=str(change.before["content"]) if intact else None)
    if intact:
        fields.update({f: v for f, v in change.before.items() if f in ("keywords", "context", "entities")})
    fields["metadata"] = {**topic.metadata, "members": [m.id for m in members]}
    current = topic.evolvable()
    after = {f: v for f, v in fields.items() if current.get(f) != v}
    undo = Change(note_id=topic.id, scope=scope, version_before=topic.version, version_after=topic.version + 1,
                  before={f: current[f] for f in after}, after=after, rationale=f"revert of {change.id}",
                  agent=USER, kind="revert", reverts=change.id)
    new = with_change(topic, undo)
    out_links = await parts.graph.aget_links(scope, [topic.id], "out")
    have = {lk.target for lk in out_links if lk.relation == Relation.SUMMARIZES}
    want = {m.id for m in members}
    vecs = await asyncio.to_thread(parts.vectors.get_vectors, sorted(want), scope)
    await _write_vectors(parts, [new], vecs, {m.id: m for m in members})
    await parts.graph.abatch([
        PutNotes((new,)), PutChanges(scope, (undo,)),
        DeleteLinks(scope, tuple((topic.id, t, Relation.SUMMARIZES.value) for t in sorted(have - want))),
        PutLinks(scope, tuple(summarizes(new, t) for t in sorted(want - have))),
    ])
    return undo


async def broken_topics(parts: EngineParts, scope: Scope, notes: dict[str, Note]) -> list[str]:
    """Topic notes (among ``notes``, a whole scope) whose member list and ``summarizes`` links disagree,
    or that list a missing note or fewer than two members."""
    topics = [n for n in notes.values() if is_topic(n)]
    if not topics:
        return []
    links = await parts.graph.aget_links(scope, [t.id for t in topics], "out")
    bad = []
    for t in topics:
        members = [str(m) for m in t.metadata.get("members", [])]
        linked = {lk.target for lk in links if lk.source == t.id and lk.relation == Relation.SUMMARIZES}
        if len(members) < 2 or set(members) != linked or any(m not in notes for m in members):
            bad.append(t.id)
    return sorted(bad)
