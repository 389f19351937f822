"""Consolidation: higher-level *topic notes* that gather a speaker's notes across sessions.

A multi-hop question ("what activities does Melanie do?") needs facts spread over
many sessions; similarity and shared-term links mostly connect neighbouring turns.
Consolidation (H-MEM / LightMem style, as an evolution pass) groups notes into
topic notes online, in the order they arrive:

* a note's *group key* is its speaker (``provenance.speaker``), else the scope;
* it joins the most similar open topic note of its key (cosine to the topic note's
  vector, the normalised mean of its members' vectors) when that similarity is at
  least ``join_threshold`` and the topic note has fewer than ``max_members``;
* otherwise, if an ungrouped note of the same key is that similar, the two start a
  new topic note; otherwise it waits, ungrouped, for a later note.

Candidates come from bounded vector queries (top ``candidates``), so a pass costs
the size of the batch, not of the store. A topic note's text is extractive (its
members' contents, nothing invented); it links ``summarizes`` to every member, lists
them in ``metadata["members"]``, and every membership change is a versioned,
revertible :class:`~zettelmem.models.Change` (``kind="consolidate"``). Members are
never rewritten. Search returns a topic note like any note, with the members it
covers (:attr:`~zettelmem.engine.results.SearchHit.members`).

A pass also demotes cold notes among those it is given when
``ConsolidationConfig.demote_cold`` is on (:mod:`zettelmem.engine.heat`).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from zettelmem.engine.evolution import with_change
from zettelmem.engine.heat import demote_cold
from zettelmem.engine.parts import EngineParts
from zettelmem.engine.pipeline import text_hash
from zettelmem.filters import Filter
from zettelmem.models import BuiltBy, Change, Link, MemoryType, Note, Provenance, Relation, Scope, new_id, utcnow
from zettelmem.stores.base import PutChanges, PutLinks, PutNotes
from zettelmem.vectors.base import vector_metadata

__all__ = ["CONSOLIDATOR", "TOPIC_TAG", "ConsolidationReport", "consolidate", "is_topic", "topic_key_tag"]

CONSOLIDATOR = BuiltBy(kind="offline", agent="consolidator", version="1")
TOPIC_TAG = "topic"
_MEMBER_CHARS = 400  # each member's share of a topic note's text


@dataclass
class ConsolidationReport:
    """What one consolidation pass did."""

    created: list[str] = field(default_factory=list)  # new topic notes
    extended: list[str] = field(default_factory=list)  # topic notes that gained members
    grouped: int = 0  # notes that joined a topic note in this pass
    changes: list[Change] = field(default_factory=list)
    demoted: list[str] = field(default_factory=list)  # notes demoted as cold (engine/heat.py; off by default)


def is_topic(note: Note) -> bool:
    """A higher-level note made by consolidation."""
    return int(note.metadata.get("zm_level", 0)) >= 1


def topic_key_tag(key: str) -> str:
    """The tag that marks the topic notes of one group key (a speaker, or ``all``)."""
    slug = re.sub(r"[^a-z0-9]+", "-", key.lower()).strip("-")[:40]
    return f"topic-{slug or 'all'}"


def _key(note: Note) -> str:
    return note.provenance.speaker or ""


def _unit(v: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(v))
    return v / n if n else v


def _digest(key: str, members: Sequence[Note]) -> str:
    head = f"{key}: " if key else ""
    return head + " … ".join(m.content[:_MEMBER_CHARS] for m in members)


def _keywords(members: Sequence[Note], cap: int) -> list[str]:
    counts: dict[str, int] = {}
    for m in members:
        for kw in m.keywords:
            counts[kw] = counts.get(kw, 0) + 1
    return [kw for kw, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))][:cap]


class _Pass:
    """One consolidation pass over a scope (state shared by its steps)."""

    def __init__(self, parts: EngineParts, scope: Scope) -> None:
        self.parts = parts
        self.scope = scope
        self.cfg = parts.settings.consolidation
        self.report = ConsolidationReport()
        self.topics: dict[str, Note] = {}  # topic notes read or written in this pass
        self.vecs: dict[str, np.ndarray] = {}  # note id -> vector (members and topic notes)
        self.members: dict[str, list[Note]] = {}  # topic id -> member notes, in order
        self.grouped: set[str] = set()  # notes known to be in a topic note

    async def vectors_of(self, ids: Sequence[str]) -> None:
        missing = [i for i in ids if i not in self.vecs]
        if missing:
            self.vecs.update(await asyncio.to_thread(self.parts.vectors.get_vectors, missing, self.scope))

    async def grouped_among(self, ids: Sequence[str]) -> set[str]:
        """Which of ``ids`` some topic note already summarizes (bounded: these ids only)."""
        unknown = [i for i in ids if i not in self.grouped]
        if unknown:
            links = await self.parts.graph.aget_links(self.scope, unknown, "in")
            self.grouped.update(lk.target for lk in links if lk.relation == Relation.SUMMARIZES)
        return {i for i in ids if i in self.grouped}

    async def candidates(self, note: Note, vec: np.ndarray) -> tuple[list[tuple[float, Note]], list[tuple[float, Note]]]:
        """(open topic notes of the note's key, ungrouped notes of its key), each with its cosine."""
        k = self.cfg.candidates
        where = Filter(tags_all=(TOPIC_TAG, topic_key_tag(_key(note))))
        topic_hits, note_hits = await asyncio.gather(
            asyncio.to_thread(self.parts.vectors.query, vec, self.scope, k, where),
            asyncio.to_thread(self.parts.vectors.query, vec, self.scope, k, None),
        )
        ids = list(dict.fromkeys([h.id for h in topic_hits] + [h.id for h in note_hits]))
        fresh = [i for i in ids if i not in self.topics]
        found = {n.id: n for n in await self.parts.graph.aget_notes(self.scope, fresh) if n is not None}
        found.update({i: self.topics[i] for i in ids if i in self.topics})
        # topic notes created earlier in this pass may not be returned by the index yet
        pending = [(t, self.vecs[t.id]) for t in self.topics.values() if _key(t) == _key(note)]
        topics: dict[str, float] = {h.id: h.similarity for h in topic_hits if h.id in found}
        topics.update({t.id: float(v @ vec) for t, v in pending})
        open_topics = [
            (s, found.get(i) or self.topics[i]) for i, s in topics.items()
            if len((found.get(i) or self.topics[i]).metadata.get("members", [])) < self.cfg.max_members
        ]
        plain = [h for h in note_hits if h.id in found and h.id != note.id and not is_topic(found[h.id])
                 and _key(found[h.id]) == _key(note)]
        taken = await self.grouped_among([h.id for h in plain])
        loose = [(h.similarity, found[h.id]) for h in plain if h.id not in taken]
        return sorted(open_topics, key=lambda x: -x[0]), sorted(loose, key=lambda x: -x[0])

    async def member_notes(self, topic: Note) -> list[Note]:
        if topic.id not in self.members:
            ids = [str(i) for i in topic.metadata.get("members", [])]
            self.members[topic.id] = [n for n in await self.parts.graph.aget_notes(self.scope, ids) if n is not None]
        return self.members[topic.id]

    def topic_vector(self, members: Sequence[Note]) -> np.ndarray:
        return _unit(np.mean(np.stack([self.vecs[m.id] for m in members if m.id in self.vecs]), axis=0))

    async def start(self, first: Note, second: Note, trigger: Note) -> None:
        members = [first, second]
        key = _key(trigger)
        when = max((m.event_time or m.created_at) for m in members)
        topic = Note(
            id=new_id(),
            content=_digest(key, members),
            keywords=_keywords(members, self.parts.settings.agents.max_keywords),
            tags=[TOPIC_TAG, topic_key_tag(key)],
            context=f"topic note: {len(members)} notes{' of ' + key if key else ''}",
            memory_type=MemoryType.SEMANTIC,
            entities=sorted({e for m in members for e in m.entities})[:20],
            scope=self.scope,
            event_time=when,
            built_by=CONSOLIDATOR,
            provenance=Provenance(speaker=key or None, source="consolidation"),
            metadata={"zm_level": 1, "members": [m.id for m in members]},
        )
        self.topics[topic.id] = topic
        self.members[topic.id] = members
        self.vecs[topic.id] = self.topic_vector(members)
        links = [self._link(topic, m) for m in members]
        await self._write([topic], links, [])
        self.report.created.append(topic.id)
        self.report.grouped += 2
        self.grouped.update(m.id for m in members)

    async def join(self, topic: Note, note: Note) -> None:
        members = [*await self.member_notes(topic), note]
        await self.vectors_of([m.id for m in members])
        key = _key(topic)
        after = {
            "content": _digest(key, members),
            "keywords": _keywords(members, self.parts.settings.agents.max_keywords),
            "context": f"topic note: {len(members)} notes{' of ' + key if key else ''}",
            "metadata": {**topic.metadata, "members": [m.id for m in members]},
        }
        before = {f: topic.model_dump(mode="json")[f] for f in after}
        change = Change(note_id=topic.id, scope=self.scope, version_before=topic.version,
                        version_after=topic.version + 1, before=before, after=after,
                        rationale=f"consolidation: {note.id} joins the topic note", trigger=note.id,
                        agent=CONSOLIDATOR, kind="consolidate")
        new = with_change(topic, change)
        self.topics[new.id] = new
        self.members[new.id] = members
        self.vecs[new.id] = self.topic_vector(members)
        await self._write([new], [self._link(new, note)], [change])
        if topic.id not in self.report.created and topic.id not in self.report.extended:
            self.report.extended.append(topic.id)
        self.report.grouped += 1
        self.report.changes.append(change)
        self.grouped.add(note.id)

    @staticmethod
    def _link(topic: Note, member: Note) -> Link:
        return Link(source=topic.id, target=member.id, relation=Relation.SUMMARIZES, weight=0.9,
                    rationale="the topic note gathers this note", created_by=CONSOLIDATOR, created_at=utcnow())

    async def _write(self, notes: list[Note], links: list[Link], changes: list[Change]) -> None:
        """Vectors first (idempotent), then one graph batch: a killed pass leaves no half-written group."""
        vecs = np.stack([self.vecs[n.id] for n in notes])
        metas = [vector_metadata(n, text_hash(n)) for n in notes]
        await asyncio.to_thread(self.parts.vectors.upsert, [n.id for n in notes], vecs, metas)
        await self.parts.graph.abatch([PutNotes(tuple(notes)), PutLinks(self.scope, tuple(links)),
                                       PutChanges(self.scope, tuple(changes))])

    async def place(self, note: Note) -> None:
        vec = self.vecs.get(note.id)
        if vec is None or note.id in self.grouped:
            return
        open_topics, loose = await self.candidates(note, vec)
        tau = self.cfg.join_threshold
        best_topic = open_topics[0] if open_topics else None
        best_loose = loose[0] if loose else None
        if best_topic and best_topic[0] >= tau and (not best_loose or best_topic[0] >= best_loose[0]):
            await self.join(best_topic[1], note)
        elif best_loose and best_loose[0] >= tau:
            await self.vectors_of([best_loose[1].id])
            if best_loose[1].id in self.vecs:
                await self.start(best_loose[1], note, note)


async def consolidate(parts: EngineParts, scope: Scope, note_ids: Sequence[str]) -> ConsolidationReport:
    """Place each of ``note_ids`` (in order) into a topic note of its key, or start one."""
    run = _Pass(parts, scope)
    notes = [n for n in await parts.graph.aget_notes(scope, list(note_ids)) if n is not None and not is_topic(n)]
    already = await run.grouped_among([n.id for n in notes])
    notes = [n for n in notes if n.id not in already]
    await run.vectors_of([n.id for n in notes])
    for note in notes:
        await run.place(note)
    run.report.demoted = [c.note_id for c in await demote_cold(parts, scope, note_ids)]  # off unless configured
    return run.report
