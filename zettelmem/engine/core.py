"""AsyncMemory: the memory loop (build → link → evolve → write) and its reads.

Writes go through one path, :meth:`AsyncMemory._commit`: vectors are upserted
first (idempotent, keyed by note id, tagged with the note version and a hash of
the embedded text), then the graph batch commits notes, links, changes and
session tails in one transaction. The graph commit is the acknowledgement: a
crash before it leaves at most an orphan vector, which searches ignore and
``repair`` deletes.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

import numpy as np

from zettelmem.agents.base import AgentSuite, Candidate, Decision, EvolutionProposal, MemoryInput, NoteDraft
from zettelmem.config import Settings
from zettelmem.embeddings import Embedder
from zettelmem.engine.factory import open_backends, pick_agents
from zettelmem.engine.guards import check_grounding, clean_labels
from zettelmem.engine.lexical import LexicalIndex
from zettelmem.engine.results import AddResult, CheckReport, SearchHit, Usage
from zettelmem.errors import ConflictError, InvalidInput, LinkNotFound, NoteNotFound
from zettelmem.filters import Filter
from zettelmem.models import EVOLVABLE_FIELDS, BuiltBy, Change, Link, MemoryType, Note, Relation, Scope, new_id
from zettelmem.stores.base import DeleteLinks, GraphStore, PutChanges, PutLinks, PutMeta, PutNotes
from zettelmem.stores.base import DeleteNotes as DeleteNotesOp
from zettelmem.text import clean_content
from zettelmem.vectors.base import VectorIndex, vector_metadata

__all__ = ["AsyncMemory", "MemoryItem"]

MemoryItem = str | dict[str, Any] | MemoryInput
USER = BuiltBy(kind="user", agent="api", version="1")


def text_hash(note: Note) -> str:
    return hashlib.blake2b(note.embedding_text().encode(), digest_size=8).hexdigest()


def _tail_key(scope: Scope, session: str) -> str:
    return f"tail\x1f{scope.key}\x1f{session}"


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
    ) -> None:
        self.settings = settings or Settings()
        self.graph, self.vectors, self.embedder = open_backends(self.settings, graph, vectors, embedder)
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

    def _usage(self) -> dict[str, int]:
        meter = self.agents.extra.get("meter")
        return dict(meter.totals()) if meter is not None else {}

    # -- input ----------------------------------------------------------------------
    def to_input(self, item: MemoryItem, scope: Scope | None = None, **kwargs: Any) -> MemoryInput:
        """Validate one memory (content, labels, scope) before anything is written."""
        if isinstance(item, MemoryInput):
            data = item.model_dump()
        elif isinstance(item, dict):
            data = dict(item)
        else:
            data = {"content": item}
        data.update({k: v for k, v in kwargs.items() if v is not None})
        if scope is not None and "scope" not in data:
            data["scope"] = scope
        data["content"] = clean_content(data.get("content"), self.settings.max_content_chars)
        try:
            return MemoryInput.model_validate(data)
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

    async def _embed(self, texts: Sequence[str]) -> np.ndarray:
        return await asyncio.to_thread(self.embedder.embed, list(texts))

    async def _candidates_many(self, items: Sequence[MemoryInput], vecs: np.ndarray, k: int) -> list[list[Candidate]]:
        """Vector top-k among stored notes for each item: one query per scope in the chunk."""
        out: list[list[Candidate]] = [[] for _ in items]
        if k <= 0:
            return out
        for scope in {m.scope for m in items}:
            rows = [i for i, m in enumerate(items) if m.scope == scope]
            hits = await asyncio.to_thread(self.vectors.query_many, vecs[rows], scope, k)
            wanted = list(dict.fromkeys(h.id for hs in hits for h in hs))
            notes = {n.id: n for n in await self.graph.aget_notes(scope, wanted) if n is not None}
            for row, hs in zip(rows, hits, strict=True):
                out[row] = [Candidate(note=notes[h.id], similarity=h.similarity) for h in hs if h.id in notes]
        return out

    async def _ingest(self, chunk: list[MemoryInput], evolve: bool) -> list[AddResult]:
        """Build, link, evolve and commit one chunk; later items see earlier ones."""
        usage_before = self._usage()
        k = self.settings.agents.candidates
        suite = self.agents
        working: dict[str, Note] = {}  # notes read or written in this chunk, newest version
        tails: dict[str, str] = {}  # session tail keys -> note id, updated as the chunk goes
        cands: list[list[Candidate]] = []
        results: list[AddResult] = []
        if suite.joint is not None:
            # one call decides the whole chunk: earlier items are offered as provisional notes
            vecs = await self._embed([m.content for m in chunk])
            stored = await self._candidates_many(chunk, vecs, k)
            provisional = [self._note_from(m, Decision(draft=NoteDraft(built_by=USER))) for m in chunk]
            for i, m in enumerate(chunk):
                found = self._with_earlier(stored[i], provisional, vecs, i, k, working)
                await self._offer_predecessor(m, found, tails, working, vecs[i])
                self._track_tail(m, provisional[i], tails)
                cands.append(found)
            decisions = await suite.joint.decide(chunk, cands)
            notes = [self._note_from(m, d, p.id) for m, d, p in zip(chunk, decisions, provisional, strict=True)]
            redo = [i for i, n in enumerate(notes) if n.embedding_text() != chunk[i].content]
            if redo:
                vecs[redo] = await self._embed([notes[i].embedding_text() for i in redo])
            for i, note in enumerate(notes):
                working[note.id] = note
                results.append(self._apply(note, cands[i], decisions[i], working, evolve))
        else:
            drafts = await suite.builder.build(chunk)
            notes = [self._note_from(m, Decision(draft=d)) for m, d in zip(chunk, drafts, strict=True)]
            vecs = await self._embed([n.embedding_text() for n in notes])
            stored = await self._candidates_many(chunk, vecs, k)
            for i, note in enumerate(notes):
                found = self._with_earlier(stored[i], notes, vecs, i, k, working)
                await self._offer_predecessor(chunk[i], found, tails, working, vecs[i])
                self._track_tail(chunk[i], note, tails)
                working[note.id] = note
                cands.append(found)
                links = await suite.linker.link(note, found)
                evols: list[EvolutionProposal] = []
                if evolve and links:
                    offered = {c.note.id: c.note for c in found}
                    linked = [working.get(p.target_id, offered[p.target_id]) for p in links if p.target_id in offered]
                    evols = await suite.evolver.evolve(note, linked, links)
                decision = Decision(draft=drafts[i], links=links, evolutions=evols)
                results.append(self._apply(note, found, decision, working, evolve))  # later notes see it
        await self._commit(notes, vecs, results, working, tails)
        delta = Usage.delta(usage_before, self._usage())
        for j, r in enumerate(results):  # one chunk's spend, reported once
            r.usage = delta if j == 0 else Usage()
        return results

    @staticmethod
    def _with_earlier(found: list[Candidate], notes: Sequence[Note], vecs: np.ndarray, i: int, k: int,
                      working: dict[str, Note]) -> list[Candidate]:
        """Merge the chunk's earlier notes (same scope) into the stored candidates, by cosine."""
        earlier = [j for j in range(i) if notes[j].scope == notes[i].scope]
        if not earlier:
            return list(found)
        sims = vecs[earlier] @ vecs[i]
        merged = list(found) + [Candidate(note=working.get(notes[j].id, notes[j]), similarity=float(s))
                                for j, s in zip(earlier, sims, strict=True)]
        return sorted(merged, key=lambda c: -c.similarity)[:k]

    @staticmethod
    def _track_tail(item: MemoryInput, note: Note, tails: dict[str, str]) -> None:
        if item.provenance.session is not None:
            tails[_tail_key(item.scope, item.provenance.session)] = note.id

    async def _offer_predecessor(
        self, item: MemoryInput, found: list[Candidate], tails: dict[str, str], working: dict[str, Note],
        vec: np.ndarray,
    ) -> None:
        """Offer the previous turn of the same session, even when it is not among the most similar."""
        session = item.provenance.session
        if session is None:
            return
        key = _tail_key(item.scope, session)
        prev_id = tails.get(key) or await asyncio.to_thread(self.graph.get_meta, key)
        if not prev_id or any(c.note.id == prev_id for c in found):
            return
        prev = working.get(prev_id) or (await self.graph.aget_notes(item.scope, [prev_id]))[0]
        if prev is None:
            return
        stored = await asyncio.to_thread(self.vectors.get_vectors, [prev_id])
        pvec = stored.get(prev_id)
        if pvec is None:  # written in this chunk: embed its text (rare, one text)
            pvec = (await self._embed([prev.embedding_text()]))[0]
        found.append(Candidate(note=prev, similarity=float(pvec @ vec)))

    def _note_from(self, item: MemoryInput, decision: Decision, note_id: str | None = None) -> Note:
        d = decision.draft
        cap_k, cap_t = self.settings.agents.max_keywords + 4, self.settings.agents.max_tags + 4
        return Note(
            id=note_id or new_id(),
            content=item.content,
            keywords=clean_labels(d.keywords, cap_k),
            tags=clean_labels([*item.tags, *d.tags], cap_t + len(item.tags)),
            context=d.context.strip()[:500],
            memory_type=item.memory_type or d.memory_type,
            entities=clean_labels(d.entities, 20),
            scope=item.scope,
            event_time=item.event_time or d.event_time,
            valid_from=item.event_time or d.event_time,
            built_by=d.built_by,
            provenance=item.provenance,
            metadata=item.metadata,
        )

    def _apply(
        self, note: Note, offered: list[Candidate], decision: Decision, working: dict[str, Note], evolve: bool
    ) -> AddResult:
        """Guard and apply one decision to the chunk's working set."""
        result = AddResult(note=note)
        ids = {c.note.id for c in offered}
        seen: set[tuple[str, str]] = set()
        for p in decision.links:
            if p.target_id not in ids or p.target_id == note.id:
                result.dropped.append(p.target_id)
                continue
            if (p.target_id, p.relation.value) in seen:
                continue
            seen.add((p.target_id, p.relation.value))
            result.links.append(Link(source=note.id, target=p.target_id, relation=p.relation,
                                     weight=p.weight, rationale=p.rationale[:500],
                                     created_by=decision.draft.built_by))
        if not evolve:
            return result
        linked = {lk.target for lk in result.links}
        for prop in decision.evolutions:
            target = working.get(prop.target_id) or next((c.note for c in offered if c.note.id == prop.target_id), None)
            if target is None or prop.target_id not in linked:
                result.dropped.append(prop.target_id)
                continue
            change = self._evolution_change(note, target, prop, offered, result.links)
            if change.kind == "rejected":
                result.rejected.append(change)
                continue
            working[target.id] = self._with_change(target, change)
            result.changes.append(change)
        return result

    def _evolution_change(
        self, trigger: Note, target: Note, prop: EvolutionProposal, offered: list[Candidate], links: list[Link]
    ) -> Change:
        fields = {}
        reason = None
        try:
            fields = self._clean_fields(prop.changes())
        except InvalidInput as exc:
            reason = f"invalid proposal: {exc}"
        if reason is None and prop.expected_version != target.version:
            reason = f"stale: proposal saw version {prop.expected_version}, note is at {target.version}"
        if reason is None:
            support = [target.content, trigger.content] + [c.note.content for c in offered if c.note.id in {lk.target for lk in links}]
            reason = check_grounding(prop, target, support)
        current = target.evolvable()
        diff_after = {f: v for f, v in fields.items() if current.get(f) != v}
        if reason is None and not diff_after:
            reason = "no change"
        kind = "rejected" if reason else "evolve"
        return Change(
            note_id=target.id, scope=target.scope, version_before=target.version,
            version_after=target.version if reason else target.version + 1,
            before={f: current.get(f) for f in (diff_after or fields)},
            after=diff_after or fields,
            rationale=(f"rejected: {reason}. " if reason else "") + prop.rationale[:500],
            trigger=trigger.id, agent=prop.agent, kind=kind,
        )

    def _clean_fields(self, fields: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, value in fields.items():
            if name not in EVOLVABLE_FIELDS:
                raise InvalidInput(f"field {name!r} cannot be changed")
            if name == "keywords":
                out[name] = clean_labels(value, self.settings.agents.max_keywords + 4)
            elif name == "tags":
                out[name] = clean_labels(value, self.settings.agents.max_tags + 4)
            elif name == "context":
                if not isinstance(value, str):
                    raise InvalidInput("context must be a string")
                out[name] = clean_content(value, 500).strip()
            elif name == "memory_type":
                out[name] = MemoryType(value).value
        return out

    @staticmethod
    def _with_change(note: Note, change: Change, when: datetime | None = None) -> Note:
        return note.model_copy(update={**{f: (MemoryType(v) if f == "memory_type" else v) for f, v in change.after.items()},
                                       "version": change.version_after, "updated_at": when or change.created_at})

    async def _commit(
        self, new: Sequence[Note], vecs: np.ndarray, results: Sequence[AddResult],
        working: dict[str, Note], tails: dict[str, str],
    ) -> None:
        """The one write path: vectors first (idempotent), then one graph transaction."""
        new_ids = {n.id for n in new}
        evolved = [working[cid] for cid in {c.note_id for r in results for c in r.changes} if cid not in new_ids]
        final_new = [working[n.id] for n in new]
        texts_changed = [i for i, n in enumerate(final_new) if n.embedding_text() != new[i].embedding_text()]
        if texts_changed:
            vecs[texts_changed] = await self._embed([final_new[i].embedding_text() for i in texts_changed])
        await self._upsert_vectors(final_new, vecs)
        text_touched = {c.note_id for r in results for c in r.changes if "context" in c.after}
        await self._reembed([n for n in evolved if n.id in text_touched])
        await self._refresh_metadata([n for n in evolved if n.id not in text_touched])
        ops: list[Any] = [PutNotes(tuple(final_new + evolved))]
        for scope in {n.scope for n in final_new}:
            links = tuple(lk for r in results if r.note.scope == scope for lk in r.links)
            changes = tuple(c for r in results if r.note.scope == scope for c in (*r.changes, *r.rejected))
            ops += [PutLinks(scope, links), PutChanges(scope, changes)]
        ops += [PutMeta(key, value) for key, value in tails.items()]
        await self.graph.abatch(ops)
        for r in results:
            r.note = working[r.note.id]
        for scope in {n.scope for n in final_new}:
            self.lexical.invalidate(scope)

    async def _upsert_vectors(self, notes: Sequence[Note], vecs: np.ndarray) -> None:
        if notes:
            metas = [vector_metadata(n, text_hash(n)) for n in notes]
            await asyncio.to_thread(self.vectors.upsert, [n.id for n in notes], vecs, metas)

    async def _refresh_metadata(self, notes: Sequence[Note]) -> None:
        if notes:
            metas = [vector_metadata(n, text_hash(n)) for n in notes]
            await asyncio.to_thread(self.vectors.update_metadata, [n.id for n in notes], metas)

    async def _reembed(self, notes: Sequence[Note]) -> None:
        """Refresh vectors of rewritten notes (metadata only when the text is unchanged)."""
        if not notes:
            return
        vecs = await self._embed([n.embedding_text() for n in notes])
        await self._upsert_vectors(notes, vecs)

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

    async def links(self, note_id: str, scope: Scope | None = None) -> list[Link]:
        scope = self._scope(scope)
        await self.get(note_id, scope)
        return await asyncio.to_thread(self.graph.links_of, scope, [note_id])

    async def search(self, query: str, scope: Scope | None = None, *, k: int = 10,
                     where: Filter | None = None, expand: bool | None = None) -> list[SearchHit]:
        """Hybrid search (dense + BM25 + graph expansion, fused by RRF), with reasons."""
        from zettelmem.engine.search import hybrid_search

        if not isinstance(query, str) or not query.strip():
            raise InvalidInput("query is empty")
        return await hybrid_search(self, query, self._scope(scope), k, where, expand)

    async def history(self, note_id: str, scope: Scope | None = None) -> list[Change]:
        scope = self._scope(scope)
        await self.get(note_id, scope)
        return await asyncio.to_thread(self.graph.history, scope, note_id)

    # -- writes by the user -----------------------------------------------------------
    async def update(self, note_id: str, scope: Scope | None = None, *, rationale: str = "user update",
                     expected_version: int | None = None, **fields: Any) -> Change:
        """Rewrite evolvable attributes (keywords, tags, context, memory_type) as a Change."""
        scope = self._scope(scope)
        async with self._write_lock:
            note = await self.get(note_id, scope)
            if expected_version is not None and expected_version != note.version:
                raise ConflictError(f"note {note_id} is at version {note.version}, not {expected_version}")
            clean = self._clean_fields(fields)
            return await self._write_change(note, clean, rationale, "update", USER)

    async def _write_change(self, note: Note, fields: dict[str, Any], rationale: str, kind: Any,
                            agent: BuiltBy, reverts: str | None = None) -> Change:
        current = note.evolvable()
        after = {f: v for f, v in fields.items() if current.get(f) != v}
        change = Change(note_id=note.id, scope=note.scope, version_before=note.version,
                        version_after=note.version + 1, before={f: current[f] for f in after}, after=after,
                        rationale=rationale, agent=agent, kind=kind, reverts=reverts)
        if not after:
            return change.model_copy(update={"version_after": note.version})
        new = self._with_change(note, change)
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

    async def evolve(self, note_ids: Sequence[str] | None = None, scope: Scope | None = None) -> list[AddResult]:
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

    async def check(self, repair: bool = False) -> CheckReport:
        """Prove (or restore, with ``repair``) that graph and vectors agree."""
        from zettelmem.engine.history import check_and_repair

        async with self._write_lock:
            return await check_and_repair(self, repair)
