"""AsyncMemory: the memory loop (build → link → evolve → write) and its reads.

``AsyncMemory`` opens the backends once and holds them in an
:class:`~zettelmem.engine.parts.EngineParts` bundle; its public methods validate
input, take the write lock and delegate to functions of that bundle: the ingest
pipeline (:mod:`zettelmem.engine.pipeline`), the guarded application of agent
decisions (:mod:`zettelmem.engine.evolution`), retrieval
(:mod:`zettelmem.engine.search`) and time travel, evolution passes and the health
check (:mod:`zettelmem.engine.history`). Writes go through one path,
:func:`~zettelmem.engine.pipeline.commit`: vectors are upserted first (idempotent, keyed by
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
from zettelmem.engine import validate as check
from zettelmem.engine.access import AccessLog
from zettelmem.engine.consolidate import ConsolidationReport, consolidate, is_topic
from zettelmem.engine.evolution import USER, clean_fields
from zettelmem.engine.factory import open_backends
from zettelmem.engine.forget import ForgetReport, forget, resume_erase
from zettelmem.engine.history import check_and_repair, evolve_pass, note_as_of
from zettelmem.engine.parts import EngineParts
from zettelmem.engine.pipeline import ingest, text_hash, write_change
from zettelmem.engine.results import AddResult, CheckReport, SearchHit
from zettelmem.engine.search import hybrid_search
from zettelmem.engine.topics import erase_members, revert_membership
from zettelmem.engine.truth import TRUTH_KINDS, truth_stats
from zettelmem.engine.truth_revert import revert_truth
from zettelmem.errors import ConflictError, InvalidInput, LinkNotFound, NoteNotFound, ScopeMismatch
from zettelmem.filters import Filter
from zettelmem.llm.accounting import STORED_KEY, read_stored
from zettelmem.models import Change, Link, Note, Relation, Scope
from zettelmem.stores.base import DeleteNotes, GraphStore
from zettelmem.telemetry import instrument
from zettelmem.text import clean_content
from zettelmem.vectors.base import VectorIndex

__all__ = ["AsyncMemory", "MemoryItem", "default_agents", "text_hash"]

MemoryItem = str | dict[str, Any] | MemoryInput


def default_agents(settings: Settings) -> AgentSuite:
    """The agents ``settings`` asks for: LLM agents iff an LLM is configured (or ``use_llm``), else offline."""
    from zettelmem.agents.llm import select_suite  # deferred: `import zettelmem` stays light
    from zettelmem.agents.offline import offline_suite

    return select_suite(settings.llm, settings.agents, offline_suite(settings.agents), use_llm=settings.use_llm)


@instrument  # OpenTelemetry gen_ai.memory spans when the otel extra is installed (zettelmem.telemetry)
class AsyncMemory:
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
        settings = settings or Settings()
        #: opened for reading only: no writer lock, writes raise StoreReadOnly
        self.read_only = read_only
        graph, vectors, embedder = open_backends(settings, graph, vectors, embedder, read_only=read_only)
        self.parts = EngineParts(
            settings=settings,
            graph=graph,
            vectors=vectors,
            embedder=embedder,
            agents=agents or default_agents(settings),
        )
        self._write_lock = asyncio.Lock()
        self._closed = False
        self.access = AccessLog()  # read counts, written in batches (engine/access.py)
        if not read_only:
            resume_erase(self.parts)  # a hard forget cut short by a crash is finished before anything else

    # -- the parts, read-only -------------------------------------------------------
    @property
    def settings(self) -> Settings:
        return self.parts.settings

    @property
    def graph(self) -> GraphStore:
        return self.parts.graph

    @property
    def vectors(self) -> VectorIndex:
        return self.parts.vectors

    @property
    def embedder(self) -> Embedder:
        return self.parts.embedder

    @property
    def agents(self) -> AgentSuite:
        return self.parts.agents

    # -- lifecycle ------------------------------------------------------------------
    async def aclose(self) -> None:
        if not self._closed:
            async with self._write_lock:
                await self.access.flush(self.graph)
            self._closed = True
            if self.agents.aclose is not None:
                await self.agents.aclose()
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
        scope = check.scope(scope)
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
            check.memory_fields(data)
            out = MemoryInput.model_validate(data)
            out.model_dump_json()  # every field must serialise (lone surrogates, odd types)
            return out
        except InvalidInput:
            raise
        except ValueError as exc:
            raise InvalidInput(f"invalid memory: {exc}") from exc

    # -- add ------------------------------------------------------------------------
    async def add(self, /, content: MemoryItem, scope: Scope | None = None, *, evolve: bool | None = None,
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
        batch_size, evolve = check.batch_size(batch_size), check.optional_bool(evolve, "evolve")
        inputs = [self.to_input(item, scope) for item in items]
        size = batch_size or self.settings.agents.batch_size
        do_evolve = self.settings.agents.evolve if evolve is None else evolve
        out: list[AddResult] = []
        meter = self.agents.meter
        with meter.operation() if meter is not None else contextlib.nullcontext():
            async with self._write_lock:
                await self.access.flush(self.graph)  # pending read counts ride along with the write
                for start in range(0, len(inputs), size):
                    batch = await ingest(self.parts, inputs[start : start + size], do_evolve)
                    out += batch
                    if self.settings.consolidation.enabled:
                        for s in dict.fromkeys(r.note.scope for r in batch):
                            await consolidate(self.parts, s, [r.note.id for r in batch if r.note.scope == s])
                    if progress is not None:
                        progress(len(out), len(inputs))
        return out

    # -- reads ----------------------------------------------------------------------
    async def get(self, note_id: str, scope: Scope | None = None, *, as_of: datetime | None = None) -> Note:
        """A note by id (as it was at ``as_of``, if given)."""
        note_id, scope, as_of = check.note_id(note_id), self._scope(check.scope(scope)), check.as_of(as_of)
        note = await self.graph.aget_note(scope, note_id)  # NoteNotFound if it is not in scope
        await self._touch(scope, [note.id])
        if as_of is None:
            return note
        return note_as_of(note, await self.graph.ahistory(scope, note_id), as_of)

    async def list(self, scope: Scope | None = None, where: Filter | None = None,
                   limit: int | None = None, offset: int = 0) -> list[Note]:
        """Notes of a scope matching ``where``, oldest first, paged by ``limit``/``offset``."""
        scope, where = check.scope(scope), check.filter_(where)
        limit, offset = check.count(limit, "limit"), check.count(offset, "offset", none_ok=False) or 0
        return await self.graph.alist_notes(self._scope(scope), where, limit, offset)

    async def links(self, note_id: str, scope: Scope | None = None) -> builtins.list[Link]:
        """The links of a note, both directions."""
        scope = self._scope(check.scope(scope))
        await self.get(note_id, scope)
        return await self.graph.aget_links(scope, [note_id])

    async def search(self, query: str, scope: Scope | None = None, *, k: int = 10,
                     where: Filter | None = None, expand: bool | None = None,
                     multistep: bool | None = None) -> builtins.list[SearchHit]:
        """Hybrid search (dense + BM25 + graph expansion, fused by RRF), with reasons.

        ``multistep`` follows links and topic notes from the hits for a bounded number of steps
        (:mod:`~zettelmem.engine.search_multistep`); default ``settings.search.multistep.enabled``,
        whose default is on exactly when consolidation (topic notes) is.
        """
        query, k, where = check.query(query), check.k(k), check.filter_(where)
        scope, expand = check.scope(scope), check.optional_bool(expand, "expand")
        multistep = check.optional_bool(multistep, "multistep")
        hits = await hybrid_search(self.parts, query, self._scope(scope), k, where, expand, multistep)
        await self._touch(self._scope(scope), [h.note.id for h in hits])
        return hits

    async def _touch(self, scope: Scope, ids: builtins.list[str]) -> None:
        """Count reads; every so many, write the counts (never from inside a write)."""
        if self.read_only:
            return  # a read-only open writes nothing, access counts included
        if self.access.record(scope, ids) and not self._write_lock.locked():
            async with self._write_lock:
                await self.access.flush(self.graph)

    async def history(self, note_id: str, scope: Scope | None = None) -> builtins.list[Change]:
        """Every change of a note (evolutions, user updates, reverts, rejections), oldest first."""
        scope = self._scope(check.scope(scope))
        await self.get(note_id, scope)
        return await self.graph.ahistory(scope, note_id)

    # -- writes by the user -----------------------------------------------------------
    async def update(self, /, note_id: str, scope: Scope | None = None, *, rationale: str = "user update",
                     expected_version: int | None = None, **fields: Any) -> Change:
        """Rewrite evolvable attributes (keywords, tags, context, memory_type) as a Change.

        The fields set are *pinned*: later automatic evolutions leave them alone
        until :meth:`unpin` releases them.
        """
        note_id, scope, rationale = check.note_id(note_id), self._scope(check.scope(scope)), check.rationale(rationale)
        expected_version, fields = check.expected_version(expected_version), check.update_fields(fields)
        async with self._write_lock:
            note = await self.get(note_id, scope)
            if expected_version is not None and expected_version != note.version:
                raise ConflictError(f"note {note_id} is at version {note.version}, not {expected_version}")
            clean = clean_fields(self.settings.agents, fields)
            pins = sorted(set(note.pinned) | set(clean))
            return await write_change(self.parts, note, clean, rationale, "update", USER, pinned=pins)

    async def unpin(self, note_id: str, scope: Scope | None = None, fields: Sequence[str] | None = None) -> Note:
        """Let evolution change these pinned fields again (default: all of them)."""
        scope = self._scope(scope)
        async with self._write_lock:
            note = await self.get(note_id, scope)
            keep = [] if fields is None else [f for f in note.pinned if f not in set(fields)]
            if keep == note.pinned:
                return note
            new = note.model_copy(update={"pinned": keep})
            await self.graph.aput_notes([new])
            return new

    async def revert(self, change_id: str, scope: Scope | None = None) -> Change:
        """Undo one change: a new version restoring the fields it rewrote."""
        change_id, scope = check.change_id(change_id), self._scope(check.scope(scope))
        async with self._write_lock:
            change = await self.graph.aget_change(scope, change_id)
            if change.kind == "rejected":
                raise InvalidInput(f"change {change_id} was rejected, there is nothing to revert")
            note = await self.get(change.note_id, scope)
            if change.kind in TRUTH_KINDS:  # supersede, mention, merge, forget, demote
                return await revert_truth(self.parts, change, note)
            if is_topic(note) and "metadata" in change.before:  # members and summarizes links move together
                return await revert_membership(self.parts, change, note)
            return await write_change(self.parts, note, dict(change.before), f"revert of {change_id}", "revert",
                                      USER, reverts=change_id)

    async def delete(self, note_ids: str | Sequence[str], scope: Scope | None = None) -> int:
        """Delete notes from both stores, with their links and history.

        Topic notes that summarize a deleted note are rebuilt without it (or dissolved,
        left with fewer than two members) in the same transaction, as by a hard forget.
        """
        scope, ids = self._scope(check.scope(scope)), check.note_ids(note_ids)
        async with self._write_lock:
            notes = [n for n in await self.graph.aget_notes(scope, ids) if n is not None]
            found = [n.id for n in notes]
            missing = sorted(set(ids) - set(found))
            if missing:
                raise NoteNotFound(f"no note {missing[0]!r} in scope {scope}")
            topics = await erase_members(self.parts, scope, notes, await self.graph.aget_links(scope, found, "in"))
            gone = [*found, *topics.dissolved]
            n = (await self.graph.abatch([*topics.ops(scope), DeleteNotes(scope, tuple(gone))]))[-1]
            await asyncio.to_thread(self.vectors.delete, gone, scope)
            return int(n) - len(topics.dissolved)

    async def forget(self, note_ids: str | Sequence[str] | None = None, scope: Scope | None = None, *,
                     where: Filter | None = None, hard: bool = False) -> ForgetReport:
        """Forget notes by id or filter: soft (closed, hidden from search, kept for history) or hard (erased).

        See :mod:`zettelmem.engine.forget`. Unknown ids raise ``NoteNotFound`` and nothing is forgotten.
        """
        async with self._write_lock:
            return await forget(self.parts, note_ids, where, self._scope(scope), hard)

    async def link(self, source: str, target: str, scope: Scope | None = None, *,
                   relation: Relation | str = Relation.RELATES_TO, weight: float = 0.5,
                   rationale: str = "linked by the user") -> Link:
        """Link two notes of a scope (an upsert by source, target and relation)."""
        source, target, scope = check.note_id(source, "source"), check.note_id(target, "target"), check.scope(scope)
        relation, weight, rationale = check.relation(relation), check.weight(weight), check.rationale(rationale)
        scope = self._scope(scope)
        if source == target:
            raise InvalidInput("a note cannot link to itself")
        lk = Link(source=source, target=target, relation=Relation(relation), weight=weight,
                  rationale=rationale, created_by=USER)
        await self.graph.aput_links(scope, [lk])
        return lk

    async def unlink(self, source: str, target: str, scope: Scope | None = None,
                     relation: Relation | str | None = None) -> int:
        """Remove the links from ``source`` to ``target`` (of ``relation``, or of any); returns how many."""
        source, target, scope = check.note_id(source, "source"), check.note_id(target, "target"), check.scope(scope)
        rel = None if relation is None else check.relation(relation).value
        scope = self._scope(scope)
        n = await self.graph.adelete_links(scope, [(source, target, rel)])
        if not n:
            raise LinkNotFound(f"no link {source} -> {target} in scope {scope}")
        return n

    async def evolve(self, note_ids: Sequence[str] | None = None, scope: Scope | None = None) -> builtins.list[AddResult]:
        """Run an evolution pass triggered by the given notes (default: every note in scope)."""
        scope = self._scope(check.scope(scope))
        note_ids = None if note_ids is None else check.note_ids(note_ids)
        async with self._write_lock:
            results = await evolve_pass(self.parts, scope, note_ids)
            if self.settings.consolidation.enabled:
                await consolidate(self.parts, scope, note_ids or await self._all_ids(scope))
            return results

    async def consolidate(self, note_ids: Sequence[str] | None = None,
                          scope: Scope | None = None) -> ConsolidationReport:
        """Gather notes into topic notes (default: every note of the scope not yet in one).

        See :mod:`zettelmem.engine.consolidate`. Idempotent: a note already in a topic
        note is left where it is; members are never rewritten. With
        ``consolidation.demote_cold`` on, cold notes are demoted (:mod:`zettelmem.engine.heat`).
        """
        scope = self._scope(check.scope(scope))
        note_ids = None if note_ids is None else check.note_ids(note_ids)
        async with self._write_lock:
            if note_ids is not None:
                found = await self.graph.aget_notes(scope, list(note_ids))
                missing = [i for i, n in zip(note_ids, found, strict=True) if n is None]
                if missing:
                    raise NoteNotFound(f"no note {missing[0]!r} in scope {scope} (nothing was consolidated)")
            await self.access.flush(self.graph)  # cold-note demotion reads the access counts
            return await consolidate(self.parts, scope, list(note_ids) if note_ids is not None
                                     else await self._all_ids(scope))

    async def _all_ids(self, scope: Scope) -> builtins.list[str]:
        """Every note id of a scope, oldest first (maintenance passes only, never a request path)."""
        ids: builtins.list[str] = []
        while page := await self.graph.alist_notes(scope, None, 1000, len(ids)):
            ids += [n.id for n in page]
        return ids

    # -- health -----------------------------------------------------------------------
    async def stats(self, scope: Scope | None = None) -> dict[str, Any]:
        """Counts (notes, links, changes, vectors), backends, embedding model, agents and LLM usage."""
        scope = check.scope(scope)
        counts = await self.graph.acount_all(scope)
        return {
            **counts,
            "vectors": await asyncio.to_thread(self.vectors.count, scope),
            "graph_backend": self.graph.name,
            "embedding_model": self.embedder.model_id,
            "agents": self.agents.name,
            "llm": self.parts.usage(),
            "truth": await truth_stats(self.graph, scope),
            "llm_stored": read_stored(await self.graph.aget_meta(STORED_KEY)),
        }

    async def check(self, repair: bool = False, scope: Scope | None = None, *, force: bool = False) -> CheckReport:
        """Prove (or restore, with ``repair``) that graph and vectors agree, in one scope or this home's.

        Without ``scope``, an embedded graph is checked whole; on a Neo4j database (which
        other homes may share) only the scopes this home holds vectors of are checked.
        ``repair`` never deletes more orphan vectors than there are notes unless ``force``.
        """
        repair, scope, force = bool(check.optional_bool(repair, "repair")), check.scope(scope), bool(force)
        async with self._write_lock:
            return await check_and_repair(self.parts, repair, scope, force=force)
