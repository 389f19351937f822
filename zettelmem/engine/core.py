"""AsyncMemory: the memory loop (build → link → evolve → write) and its reads.

The ingest pipeline lives in :mod:`zettelmem.engine.pipeline` and the guarded
application of agent decisions in :mod:`zettelmem.engine.evolution`. Writes go
through one path, ``_commit``: vectors are upserted first (idempotent, keyed by
note id, tagged with the note version and a hash of the embedded text), then
the graph batch commits notes, links, changes and session tails in one
transaction. The graph commit is the acknowledgement: a crash before it leaves
at most an orphan vector, which searches ignore and ``repair`` deletes.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from zettelmem.agents.base import AgentSuite, MemoryInput
from zettelmem.config import Settings
from zettelmem.embeddings import Embedder
from zettelmem.engine.evolution import USER
from zettelmem.engine.factory import open_backends, pick_agents
from zettelmem.engine.lexical import LexicalIndex
from zettelmem.engine.pipeline import PipelineMixin, text_hash
from zettelmem.engine.results import AddResult, CheckReport, SearchHit
from zettelmem.errors import ConflictError, InvalidInput, LinkNotFound, NoteNotFound, ScopeMismatch
from zettelmem.filters import Filter
from zettelmem.models import BuiltBy, Change, Link, Note, Relation, Scope
from zettelmem.stores.base import DeleteLinks, GraphStore, PutChanges, PutLinks, PutNotes
from zettelmem.stores.base import DeleteNotes as DeleteNotesOp
from zettelmem.text import clean_content
from zettelmem.vectors.base import VectorIndex

__all__ = ["AsyncMemory", "MemoryItem", "text_hash"]

MemoryItem = str | dict[str, Any] | MemoryInput


class AsyncMemory(PipelineMixin):
    """The async core. Use :class:`zettelmem.Memory` for the sync facade."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        agents: AgentSuite | None = None,
        graph: GraphStore | None = None,
        vectors: VectorIndex | None = None,
        embedder: Embedder | None = None,
        read_only: bool = False,
    ) -> None:
        self.settings = settings or Settings()
        #: opened for reading only: no writer lock, writes raise StoreReadOnly
        self.read_only = read_only
        self.graph, self.vectors, self.embedder = open_backends(self.settings, graph, vectors, embedder,
                                                                read_only=read_only)
        self.agents = agents or pick_agents(self.settings)
        self.lexical = LexicalIndex(self._lexical_corpus)
        self._write_lock = asyncio.Lock()
        self._closed = False

    def _lexical_corpus(self, scope: Scope) -> tuple[list[Note], dict[str, str]]:
        """Notes of a scope and, per note, the content of the note it answers or follows."""
        notes = self.graph.list_notes(scope)
        by_id = {n.id: n for n in notes}
        threads: dict[str, str] = {}
        for lk in self.graph.links_of(scope, list(by_id), direction="out"):
            if lk.relation in (Relation.ANSWERS, Relation.FOLLOWS) and lk.target in by_id:
                threads[lk.source] = by_id[lk.target].content
        return notes, threads

    # -- lifecycle ------------------------------------------------------------------
    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            closer = self.agents.extra.get("aclose")
            if closer is not None:
                await closer()
            self.vectors.close()
            self.graph.close()

    def _scope(self, scope: Scope | None) -> Scope:
        return scope or Scope()

    # -- input ----------------------------------------------------------------------
    def to_input(self, item: MemoryItem, scope: Scope | None = None, **kwargs: Any) -> MemoryInput:
        """Validate one memory (content, labels, scope) before anything is written.

        The ``scope`` argument is the only scope a call writes to: an item that carries a
        different scope of its own raises :class:`ScopeMismatch`. Without a ``scope``
        argument, an item's own scope is used (the global scope if it names none).
        """
        if isinstance(item, MemoryInput):
            # only fields the caller set: a default (global) scope must not override ``scope``
            data = item.model_dump(include=item.model_fields_set)
        elif isinstance(item, dict):
            data = dict(item)
        else:
            data = {"content": item}
        data.update({k: v for k, v in kwargs.items() if v is not None})
        own = data.get("scope")
        if scope is not None:
            data["scope"] = scope
        data["content"] = clean_content(data.get("content"), self.settings.max_content_chars)
        try:
            if scope is not None and own is not None and Scope.model_validate(own) != scope:
                raise ScopeMismatch(
                    f"the item names scope {Scope.model_validate(own)}, but the call's scope is {scope}; "
                    "drop the item's scope or make them agree (nothing was written)"
                )
            return MemoryInput.model_validate(data)
        except ScopeMismatch:
            raise
        except ValueError as exc:
            raise InvalidInput(f"invalid memory: {exc}") from exc

    # -- add ------------------------------------------------------------------------
    async def add(self, content: MemoryItem, scope: Scope | None = None, *, evolve: bool | None = None,
                  **fields: Any) -> AddResult:
        """Add one memory; returns once it is durably stored.

        ``fields`` are :class:`MemoryInput` fields: ``event_time``, ``provenance``,
        ``metadata``, ``memory_type``, ``tags``. ``evolve=False`` links without
        evolving (run :meth:`evolve` later).
        """
        return (await self.add_many([self.to_input(content, scope, **fields)], evolve=evolve))[0]

    async def add_many(
        self,
        items: Iterable[MemoryItem],
        scope: Scope | None = None,
        *,
        batch_size: int | None = None,
        evolve: bool | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> list[AddResult]:
        """Add memories in order, in batches (one embedding call, one commit each)."""
        inputs = [self.to_input(item, scope) for item in items]
        size = batch_size or int(self.agents.extra.get("batch_size", 64))
        do_evolve = self.settings.agents.evolve if evolve is None else evolve
        out: list[AddResult] = []
        meter = self.agents.extra.get("meter")
        with meter.operation() if meter is not None else contextlib.nullcontext():
            async with self._write_lock:
                for start in range(0, len(inputs), size):
                    out += await self._ingest(inputs[start : start + size], do_evolve)
                    if progress is not None:
                        progress(len(out), len(inputs))
        return out

    # -- reads ----------------------------------------------------------------------
    async def get(self, note_id: str, scope: Scope | None = None, *, as_of: datetime | None = None) -> Note:
        """A note by id (as it was at ``as_of``, if given)."""
        scope = self._scope(scope)
        note = (await self.graph.aget_notes(scope, [note_id]))[0]
        if note is None:
            raise NoteNotFound(f"no note {note_id!r} in scope {scope}")
        if as_of is None:
            return note
        from zettelmem.engine.history import note_as_of

        return note_as_of(note, await asyncio.to_thread(self.graph.history, scope, note_id), as_of)

    async def list(self, scope: Scope | None = None, where: Filter | None = None,
                   limit: int | None = None, offset: int = 0) -> list[Note]:
        return await asyncio.to_thread(self.graph.list_notes, self._scope(scope), where, limit, offset)

    async def links(self, note_id: str, scope: Scope | None = None) -> builtins.list[Link]:
        scope = self._scope(scope)
        await self.get(note_id, scope)
        return await asyncio.to_thread(self.graph.links_of, scope, [note_id])

    async def search(self, query: str, scope: Scope | None = None, *, k: int = 10,
                     where: Filter | None = None, expand: bool | None = None) -> builtins.list[SearchHit]:
        """Hybrid search (dense + BM25 + graph expansion, fused by RRF), with reasons."""
        from zettelmem.engine.search import hybrid_search

        if not isinstance(query, str) or not query.strip():
            raise InvalidInput("query is empty")
        return await hybrid_search(self, query, self._scope(scope), k, where, expand)

    async def history(self, note_id: str, scope: Scope | None = None) -> builtins.list[Change]:
        scope = self._scope(scope)
        await self.get(note_id, scope)
        return await asyncio.to_thread(self.graph.history, scope, note_id)

    # -- writes by the user -----------------------------------------------------------
    async def update(self, note_id: str, scope: Scope | None = None, *, rationale: str = "user update",
                     expected_version: int | None = None, pin: bool = True, **fields: Any) -> Change:
        """Rewrite evolvable attributes (keywords, tags, context, memory_type) as a Change.

        The fields set are *pinned* (``pin=False`` to not): later automatic evolutions
        leave them alone until :meth:`unpin`.
        """
        scope = self._scope(scope)
        async with self._write_lock:
            note = await self.get(note_id, scope)
            if expected_version is not None and expected_version != note.version:
                raise ConflictError(f"note {note_id} is at version {note.version}, not {expected_version}")
            clean = self._clean_fields(fields)
            pins = sorted(set(note.pinned) | set(clean)) if pin else None
            return await self._write_change(note, clean, rationale, "update", USER, pinned=pins)

    async def unpin(self, note_id: str, scope: Scope | None = None, fields: Sequence[str] | None = None) -> Note:
        """Let evolution change these pinned fields again (default: all of them)."""
        scope = self._scope(scope)
        async with self._write_lock:
            note = await self.get(note_id, scope)
            keep = [] if fields is None else [f for f in note.pinned if f not in set(fields)]
            if keep == note.pinned:
                return note
            new = note.model_copy(update={"pinned": keep})
            await self.graph.abatch([PutNotes((new,))])
            return new

    async def _write_change(self, note: Note, fields: dict[str, Any], rationale: str, kind: Any,
                            agent: BuiltBy, reverts: str | None = None, pinned: builtins.list[str] | None = None) -> Change:
        current = note.evolvable()
        after = {f: v for f, v in fields.items() if current.get(f) != v}
        change = Change(note_id=note.id, scope=note.scope, version_before=note.version,
                        version_after=note.version + 1, before={f: current[f] for f in after}, after=after,
                        rationale=rationale, agent=agent, kind=kind, reverts=reverts)
        if not after:
            if pinned is not None and pinned != note.pinned:  # same values, but now pinned
                await self.graph.abatch([PutNotes((note.model_copy(update={"pinned": pinned}),))])
            return change.model_copy(update={"version_after": note.version})
        new = self._with_change(note, change)
        if pinned is not None:
            new = new.model_copy(update={"pinned": pinned})
        if "context" in after:
            await self._reembed([new])
        else:
            await self._refresh_metadata([new])
        await self.graph.abatch([PutNotes((new,)), PutChanges(note.scope, (change,))])
        self.lexical.invalidate(note.scope)
        return change

    async def revert(self, change_id: str, scope: Scope | None = None) -> Change:
        """Undo one change: a new version restoring the fields it rewrote."""
        scope = self._scope(scope)
        async with self._write_lock:
            change = await asyncio.to_thread(self.graph.get_change, scope, change_id)
            if change.kind == "rejected":
                raise InvalidInput(f"change {change_id} was rejected, there is nothing to revert")
            note = await self.get(change.note_id, scope)
            return await self._write_change(note, dict(change.before), f"revert of {change_id}", "revert",
                                            USER, reverts=change_id)

    async def delete(self, note_ids: str | Sequence[str], scope: Scope | None = None) -> int:
        """Delete notes from both stores, with their links and history."""
        scope = self._scope(scope)
        ids = [note_ids] if isinstance(note_ids, str) else list(note_ids)
        async with self._write_lock:
            found = [n.id for n in await self.graph.aget_notes(scope, ids) if n is not None]
            missing = sorted(set(ids) - set(found))
            if missing:
                raise NoteNotFound(f"no note {missing[0]!r} in scope {scope}")
            n = (await self.graph.abatch([DeleteNotesOp(scope, tuple(found))]))[0]
            await asyncio.to_thread(self.vectors.delete, found)
            self.lexical.invalidate(scope)
            return int(n)

    async def link(self, source: str, target: str, scope: Scope | None = None, *,
                   relation: Relation | str = Relation.RELATES_TO, weight: float = 0.5,
                   rationale: str = "linked by the user") -> Link:
        scope = self._scope(scope)
        if source == target:
            raise InvalidInput("a note cannot link to itself")
        lk = Link(source=source, target=target, relation=Relation(relation), weight=weight,
                  rationale=rationale, created_by=USER)
        await self.graph.abatch([PutLinks(scope, (lk,))])
        return lk

    async def unlink(self, source: str, target: str, scope: Scope | None = None,
                     relation: Relation | str | None = None) -> int:
        scope = self._scope(scope)
        rel = Relation(relation).value if relation else None
        n = (await self.graph.abatch([DeleteLinks(scope, ((source, target, rel),))]))[0]
        if not n:
            raise LinkNotFound(f"no link {source} -> {target} in scope {scope}")
        return int(n)

    async def evolve(self, note_ids: Sequence[str] | None = None, scope: Scope | None = None) -> builtins.list[AddResult]:
        """Run an evolution pass triggered by the given notes (default: every note in scope)."""
        from zettelmem.engine.history import evolve_pass

        scope = self._scope(scope)
        async with self._write_lock:
            return await evolve_pass(self, scope, note_ids)

    # -- health -----------------------------------------------------------------------
    async def stats(self, scope: Scope | None = None) -> dict[str, Any]:
        counts = await asyncio.to_thread(self.graph.count, scope)
        return {
            **counts,
            "vectors": await asyncio.to_thread(self.vectors.count),
            "graph_backend": self.graph.name,
            "embedding_model": self.embedder.model_id,
            "agents": self.agents.name,
            "llm": self._usage(),
        }

    async def check(self, repair: bool = False, scope: Scope | None = None) -> CheckReport:
        """Prove (or restore, with ``repair``) that graph and vectors agree, in one scope or all.

        On a Neo4j database shared by several memories (each with its own vectors), pass
        ``scope``: the notes of other memories have no vectors here.
        """
        from zettelmem.engine.history import check_and_repair

        async with self._write_lock:
            return await check_and_repair(self, repair, scope)
