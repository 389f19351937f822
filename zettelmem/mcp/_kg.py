"""The reference knowledge graph (entities, observations, relations) as zettelmem notes and links.

Mapping (also in the README):

* an **entity** is a note ``"<name> (<entityType>)"``, memory type ``semantic``, tag
  ``entity``, ``metadata["mcp"] = {"kind": "entity", "name", "entityType"}``;
* an **observation** is a note of its own (``"<name>: <observation>"``, or the
  observation alone when it already names the entity), linked to its entity with an
  ``elaborates`` link, ``metadata["mcp"] = {"kind": "observation", "entity", "text"}``;
* a **relation** ``from -relationType-> to`` is a note ``"<from> <relationType> <to>"``
  linked ``from -> relation note -> to`` (``relates_to``, weight 1), ``metadata["mcp"] =
  {"kind": "relation", "from", "to", "relationType"}``: relations of several types
  between the same two entities stay distinct, and each is a searchable memory.

Every one of these notes goes through the full loop (keywords, links to other
memories, evolution), so ``recall`` finds them and the reference tools read back
exactly what they wrote: names and texts come from ``metadata["mcp"]``, never from
rewritten attributes. Deleting removes the notes from every store (hard delete).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from zettelmem.engine.core import AsyncMemory
from zettelmem.errors import NoteNotFound
from zettelmem.mcp._kgindex import KGIndex, Row
from zettelmem.mcp.models import Entity, KGRelation, KnowledgeGraph, ObservationAdded, ObservationDeletion
from zettelmem.models import MemoryType, Note, Relation, Scope

__all__ = ["KnowledgeGraphMap"]

_OBS_LINK = Relation.ELABORATES
_REL_LINK = Relation.RELATES_TO


def _observation_content(entity: str, text: str) -> str:
    return text if entity.lower() in text.lower() else f"{entity}: {text}"


def _relation_content(r: KGRelation) -> str:
    return f"{r.from_} {r.relationType.replace('_', ' ')} {r.to}"


def _row_of(note: Note) -> Row | None:
    meta = note.metadata.get("mcp")
    if not isinstance(meta, dict):
        return None
    kind = meta.get("kind")
    if kind == "entity":
        return Row("entity", str(meta.get("name", "")), str(meta.get("entityType", "")), "", note.id)
    if kind == "observation":
        return Row("observation", str(meta.get("entity", "")), str(meta.get("text", "")), "", note.id)
    if kind == "relation":
        return Row("relation", str(meta.get("from", "")), str(meta.get("to", "")),
                   str(meta.get("relationType", "")), note.id)
    return None


class KnowledgeGraphMap:
    """The nine reference operations over one AsyncMemory, per scope."""

    def __init__(self, mem: AsyncMemory, index: KGIndex) -> None:
        self.mem = mem
        self.index = index
        self._lock = asyncio.Lock()

    # -- plumbing ---------------------------------------------------------------------------
    async def _ensure(self, scope: Scope) -> None:
        """Index a scope the index has never seen from its notes' metadata (once)."""
        if self.index.known(scope.key):
            return
        notes = await self.mem.list(scope)
        self.index.mark_known(scope.key, [r for n in notes if (r := _row_of(n)) is not None])

    async def _alive(self, scope: Scope, rows: Sequence[Row]) -> list[Row]:
        """The rows whose note still exists (stale rows are dropped from the index)."""
        if not rows:
            return []
        notes = await self.mem.graph.aget_notes(scope, [r.note_id for r in rows])
        dead = [r.note_id for r, n in zip(rows, notes, strict=True) if n is None]
        self.index.drop_notes(dead)
        return [r for r, n in zip(rows, notes, strict=True) if n is not None]

    async def _add(self, scope: Scope, items: list[dict[str, Any]]) -> list[str]:
        if not items:
            return []
        return [r.note.id for r in await self.mem.add_many(items, scope)]

    async def _link_relations(self, scope: Scope, rels: Sequence[Row], entities: dict[str, str]) -> None:
        for r in rels:
            why = f"{r.a} {r.c} {r.b}"
            if r.a in entities:
                await self.mem.link(entities[r.a], r.note_id, scope, relation=_REL_LINK, weight=1.0, rationale=why)
            if r.b in entities:
                await self.mem.link(r.note_id, entities[r.b], scope, relation=_REL_LINK, weight=1.0, rationale=why)

    async def _entity_ids(self, scope: Scope, names: Sequence[str]) -> dict[str, str]:
        return {r.a: r.note_id for r in await self._alive(scope, self.index.entities(scope.key, names))}

    def _obs_items(self, name: str, texts: Sequence[str]) -> list[dict[str, Any]]:
        return [{"content": _observation_content(name, t), "memory_type": MemoryType.SEMANTIC, "tags": ["observation"],
                 "metadata": {"mcp": {"kind": "observation", "entity": name, "text": t}}} for t in texts]

    async def _write_observations(self, scope: Scope, pending: list[tuple[str, str, list[str]]]) -> None:
        """Add observation notes ``(entity, entity note id, texts)``, link and index them."""
        items = [item for name, _id, texts in pending for item in self._obs_items(name, texts)]
        for item in items:  # refuse the whole call before anything is written
            self.mem.to_input(item, scope)
        ids = iter(await self._add(scope, items))
        rows: list[Row] = []
        for name, entity_id, texts in pending:
            for text in texts:
                note_id = next(ids)
                await self.mem.link(note_id, entity_id, scope, relation=_OBS_LINK, weight=1.0,
                                    rationale=f"observation of {name}")
                rows.append(Row("observation", name, text, "", note_id))
        self.index.put(scope.key, rows)

    # -- writes -------------------------------------------------------------------------------
    async def create_entities(self, scope: Scope, entities: Sequence[Entity]) -> list[Entity]:
        async with self._lock:
            await self._ensure(scope)
            existing = await self._entity_ids(scope, [e.name for e in entities])
            new: dict[str, Entity] = {}
            for e in entities:
                if e.name not in existing and e.name not in new:
                    new[e.name] = e
            items = [{"content": f"{e.name} ({e.entityType})", "memory_type": MemoryType.SEMANTIC, "tags": ["entity"],
                      "metadata": {"mcp": {"kind": "entity", "name": e.name, "entityType": e.entityType}}}
                     for e in new.values()]
            for item in items + [o for e in new.values() for o in self._obs_items(e.name, e.observations)]:
                self.mem.to_input(item, scope)  # validate everything first: a refused call writes nothing
            ids = dict(zip(new, await self._add(scope, items), strict=True))
            self.index.put(scope.key, [Row("entity", e.name, e.entityType, "", ids[e.name]) for e in new.values()])
            await self._write_observations(
                scope, [(e.name, ids[e.name], list(dict.fromkeys(e.observations))) for e in new.values()])
            waiting = await self._alive(scope, self.index.relations(scope.key, list(new)))
            await self._link_relations(scope, waiting, ids)
            return list(new.values())

    async def create_relations(self, scope: Scope, relations: Sequence[KGRelation]) -> list[KGRelation]:
        async with self._lock:
            await self._ensure(scope)
            new: dict[tuple[str, str, str], KGRelation] = {}
            for r in relations:
                key = (r.from_, r.to, r.relationType)
                found = self.index.relation(scope.key, *key)
                if key not in new and not (found and await self._alive(scope, [found])):
                    new[key] = r
            items = [{"content": _relation_content(r), "memory_type": MemoryType.SEMANTIC, "tags": ["relation"],
                      "metadata": {"mcp": {"kind": "relation", "from": r.from_, "to": r.to,
                                           "relationType": r.relationType}}} for r in new.values()]
            ids = await self._add(scope, items)
            rows = [Row("relation", *key, note_id) for key, note_id in zip(new, ids, strict=True)]
            self.index.put(scope.key, rows)
            ends = await self._entity_ids(scope, [n for r in rows for n in (r.a, r.b)])
            await self._link_relations(scope, rows, ends)
            return list(new.values())

    async def add_observations(self, scope: Scope, additions: Sequence[tuple[str, Sequence[str]]]
                               ) -> list[ObservationAdded]:
        async with self._lock:
            await self._ensure(scope)
            ids = await self._entity_ids(scope, [name for name, _ in additions])
            for name, _ in additions:
                if name not in ids:
                    raise NoteNotFound(f"Entity with name {name} not found")
            known = {(r.a, r.b) for r in await self._alive(scope, self.index.observations(scope.key, list(ids)))}
            pending: list[tuple[str, str, list[str]]] = []
            out: list[ObservationAdded] = []
            for name, contents in additions:
                fresh = [t for t in dict.fromkeys(contents) if (name, t) not in known]
                known.update((name, t) for t in fresh)
                pending.append((name, ids[name], fresh))
                out.append(ObservationAdded(entityName=name, addedObservations=fresh))
            await self._write_observations(scope, pending)
            return out

    async def _delete(self, scope: Scope, rows: Sequence[Row]) -> int:
        alive = await self._alive(scope, rows)
        ids = list(dict.fromkeys(r.note_id for r in alive))
        if ids:
            await self.mem.delete(ids, scope)
        self.index.drop_notes(ids)
        return len(ids)

    async def delete_entities(self, scope: Scope, names: Sequence[str]) -> int:
        async with self._lock:
            await self._ensure(scope)
            k = scope.key
            rows = self.index.entities(k, names) + self.index.observations(k, names) + self.index.relations(k, names)
            return await self._delete(scope, rows)

    async def delete_observations(self, scope: Scope, deletions: Sequence[ObservationDeletion]) -> int:
        async with self._lock:
            await self._ensure(scope)
            rows = [r for d in deletions for r in self.index.observations(scope.key, [d.entityName])
                    if r.b in set(d.observations)]
            return await self._delete(scope, rows)

    async def delete_relations(self, scope: Scope, relations: Sequence[KGRelation]) -> int:
        async with self._lock:
            await self._ensure(scope)
            rows = [row for r in relations if (row := self.index.relation(scope.key, r.from_, r.to, r.relationType))]
            return await self._delete(scope, rows)

    # -- reads --------------------------------------------------------------------------------
    async def _graph(self, scope: Scope, names: Sequence[str] | None) -> KnowledgeGraph:
        k = scope.key
        entities = await self._alive(scope, self.index.entities(k, names))
        found = [r.a for r in entities]
        observations = await self._alive(scope, self.index.observations(k, None if names is None else found))
        relations = await self._alive(scope, self.index.relations(k, None if names is None else found))
        texts: dict[str, list[str]] = {}
        for r in observations:
            texts.setdefault(r.a, []).append(r.b)
        return KnowledgeGraph(
            entities=[Entity(name=r.a, entityType=r.b, observations=texts.get(r.a, [])) for r in entities],
            relations=[KGRelation.model_validate({"from": r.a, "to": r.b, "relationType": r.c}) for r in relations],
        )

    async def read_graph(self, scope: Scope) -> KnowledgeGraph:
        await self._ensure(scope)
        return await self._graph(scope, None)

    async def open_nodes(self, scope: Scope, names: Sequence[str]) -> KnowledgeGraph:
        await self._ensure(scope)
        return await self._graph(scope, list(names))

    async def search_nodes(self, scope: Scope, query: str, k: int = 10) -> KnowledgeGraph:
        """Entities whose name, type or an observation contains ``query`` (as the reference
        matches), plus those whose notes share a term with it (zettelmem's lexical search),
        e.g. ``"where does Alice work"`` finds ``Alice``."""
        await self._ensure(scope)
        names = self.index.matching(scope.key, query)
        if query.strip():
            for hit in await self.mem.search(query, scope, k=k):
                if not any(r.kind in ("lexical", "entity") for r in hit.why):
                    continue
                row = _row_of(hit.note)
                if row is not None:
                    names.update({row.a} if row.kind != "relation" else {row.a, row.b})
        graph = await self._graph(scope, sorted(names))
        order = {r.a: i for i, r in enumerate(self.index.entities(scope.key))}
        graph.entities.sort(key=lambda e: order.get(e.name, len(order)))
        return graph
