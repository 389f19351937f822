"""The ingest pipeline: embed, find candidates, ask the agents, guard, commit.

Functions of the engine's parts (:class:`~zettelmem.engine.parts.EngineParts`).
Writes go through one path, :func:`commit` (and :func:`write_change` for a single
user change): vectors first (idempotent, keyed by note id, tagged with version and
a hash of the embedded text), then one graph transaction, which is the
acknowledgement.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from zettelmem.agents.base import (
    Candidate,
    Decision,
    EvolutionProposal,
    JudgingLinker,
    Linker,
    LinkProposal,
    MemoryInput,
    NoteDraft,
    TruthVerdict,
)
from zettelmem.agents.offline.truth import OfflineTruthJudge
from zettelmem.config import AgentsConfig
from zettelmem.engine.evolution import USER, apply_decision, with_change
from zettelmem.engine.ingest_keys import key_meta
from zettelmem.engine.parts import EngineParts
from zettelmem.engine.results import AddResult, Usage
from zettelmem.engine.truth import ChunkTruth
from zettelmem.llm.accounting import STORED_KEY, merge_stored
from zettelmem.models import BuiltBy, Change, Note, Scope, new_id
from zettelmem.stores.base import PutChanges, PutLinks, PutMeta, PutNotes
from zettelmem.text import clean_labels
from zettelmem.vectors.base import vector_metadata

__all__ = [
    "candidates_many",
    "commit",
    "ingest",
    "note_from",
    "reembed",
    "refresh_metadata",
    "stored_usage",
    "tail_key",
    "text_hash",
    "upsert_vectors",
    "write_change",
]


def text_hash(note: Note) -> str:
    """Hash of the text a note's vector embeds (stored beside the vector)."""
    return hashlib.blake2b(note.embedding_text().encode(), digest_size=8).hexdigest()


def tail_key(scope: Scope, session: str) -> str:
    return f"tail\x1f{scope.key}\x1f{session}"


async def candidates_many(
    parts: EngineParts, items: Sequence[MemoryInput], vecs: np.ndarray, k: int
) -> list[list[Candidate]]:
    """Vector top-k among stored notes for each item: one query per scope in the chunk."""
    out: list[list[Candidate]] = [[] for _ in items]
    if k <= 0:
        return out
    for scope in {m.scope for m in items}:
        rows = [i for i, m in enumerate(items) if m.scope == scope]
        hits = await asyncio.to_thread(parts.vectors.query_many, vecs[rows], scope, k)
        wanted = list(dict.fromkeys(h.id for hs in hits for h in hs))
        notes = {n.id: n for n in await parts.graph.aget_notes(scope, wanted) if n is not None}
        for row, hs in zip(rows, hits, strict=True):
            out[row] = [Candidate(note=notes[h.id], similarity=h.similarity) for h in hs if h.id in notes]
    return out


async def ingest(parts: EngineParts, chunk: list[MemoryInput], evolve: bool) -> list[AddResult]:
    """Build, link, evolve and commit one chunk; later items see earlier ones."""
    usage_before = parts.usage()
    cfg = parts.settings.agents
    k = cfg.candidates
    suite = parts.agents
    working: dict[str, Note] = {}  # notes read or written in this chunk, newest version
    tails: dict[str, str] = {}  # session tail keys -> note id, updated as the chunk goes
    cands: list[list[Candidate]] = []
    results: list[AddResult] = []
    truth = ChunkTruth(enabled=cfg.truth, judge=suite.truth or OfflineTruthJudge())
    if suite.joint is not None:
        # one call decides the whole chunk: earlier items are offered as provisional notes
        vecs = await parts.embed([m.content for m in chunk])
        stored = await candidates_many(parts, chunk, vecs, k)
        provisional = [note_from(cfg, m, Decision(draft=NoteDraft(built_by=USER))) for m in chunk]
        rows = {n.id: vecs[j] for j, n in enumerate(provisional)}
        for i, m in enumerate(chunk):
            found = _with_earlier(stored[i], provisional, vecs, i, k, working)
            await _offer_predecessor(parts, m, found, tails, working, vecs[i], rows)
            _track_tail(m, provisional[i], tails)
            cands.append(found)
        decisions = await suite.joint.decide(chunk, cands)
        notes = [note_from(cfg, m, d, p.id) for m, d, p in zip(chunk, decisions, provisional, strict=True)]
        redo = [i for i, n in enumerate(notes) if n.embedding_text() != chunk[i].content]
        if redo:
            vecs[redo] = await parts.embed([notes[i].embedding_text() for i in redo])
        for i, note in enumerate(notes):
            found = truth.usable(cands[i])
            verdicts = truth.verdicts(note, found, decisions[i], working)
            merged = truth.collapse(note, found, verdicts, working)
            if merged is not None:  # a repeat or near-duplicate: a mention of an older note
                results.append(merged)
                continue
            working[note.id] = note
            results.append(apply_decision(cfg, note, found, decisions[i], working, evolve))
            truth.apply(note, found, verdicts, working, results[-1])
    else:
        # embed the contents in a worker thread while the builder works: an offline note
        # embeds its content alone, so only notes whose text differs are embedded again
        embedding = asyncio.ensure_future(parts.embed([m.content for m in chunk]))
        await asyncio.sleep(0)  # let the embedding start before the builder takes the loop
        drafts = await suite.builder.build(chunk)
        notes = [note_from(cfg, m, Decision(draft=d)) for m, d in zip(chunk, drafts, strict=True)]
        vecs = await embedding
        redo = [i for i, n in enumerate(notes) if n.embedding_text() != chunk[i].content]
        if redo:
            vecs[redo] = await parts.embed([notes[i].embedding_text() for i in redo])
        stored = await candidates_many(parts, chunk, vecs, k)
        rows = {n.id: vecs[j] for j, n in enumerate(notes)}
        for i, note in enumerate(notes):
            found = _with_earlier(stored[i], notes, vecs, i, k, working)
            await _offer_predecessor(parts, chunk[i], found, tails, working, vecs[i], rows)
            _track_tail(chunk[i], note, tails)
            found = truth.usable(found)
            cands.append(found)
            verdicts = truth.verdicts(note, found, None, working)
            merged = truth.collapse(note, found, verdicts, working)
            if merged is not None:  # a repeat or near-duplicate: a mention of an older note
                results.append(merged)
                continue
            links, said = await _link(suite.linker, note, found)
            if said is not None:  # a linker that judged in the same call (the staged LLM linker)
                verdicts = truth.with_judged(said, verdicts) if cfg.truth else []
                merged = truth.collapse(note, found, said, working)
                if merged is not None:  # the model's duplicate, past the guards: a mention, not a note
                    results.append(merged)
                    continue
            working[note.id] = note
            evols: list[EvolutionProposal] = []
            if evolve and links:
                offered = {c.note.id: c.note for c in found}
                linked = [working.get(p.target_id, offered[p.target_id]) for p in links if p.target_id in offered]
                evols = await suite.evolver.evolve(note, linked, links)
            decision = Decision(draft=drafts[i], links=links, evolutions=evols)
            results.append(apply_decision(cfg, note, found, decision, working, evolve))  # later notes see it
            truth.apply(note, found, verdicts, working, results[-1])
    if truth.merged:  # repeats and merged duplicates are mentions of older notes, not new notes
        kept = [i for i, n in enumerate(notes) if n.id not in truth.merged]
        notes, vecs = [notes[i] for i in kept], vecs[kept]
        tails = {key: truth.merged.get(v, v) for key, v in tails.items()}
    tails.update(truth.meta(parts.graph))  # truth counters, written in the chunk's one transaction
    # idempotency keys commit with their notes; a repeat's key names the note it is a mention of
    tails.update(key_meta(chunk, [truth.merged.get(r.note.id, r.note.id) for r in results]))
    delta = Usage.delta(usage_before, parts.usage())
    await commit(parts, notes, vecs, results, working, tails, await stored_usage(parts, delta))
    for j, r in enumerate(results):  # one chunk's spend, reported once
        r.usage = delta if j == 0 else Usage()
    return results


async def _link(linker: Linker, note: Note, found: list[Candidate]) -> tuple[list[LinkProposal],
                                                                              list[TruthVerdict] | None]:
    """The linker's links, and its verdicts when it judges in the same call (else None)."""
    if isinstance(linker, JudgingLinker):
        return await linker.link_judged(note, found)
    return list(await linker.link(note, found)), None


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


def _track_tail(item: MemoryInput, note: Note, tails: dict[str, str]) -> None:
    if item.provenance.session is not None:
        tails[tail_key(item.scope, item.provenance.session)] = note.id


async def _offer_predecessor(
    parts: EngineParts, item: MemoryInput, found: list[Candidate], tails: dict[str, str], working: dict[str, Note],
    vec: np.ndarray, chunk_vecs: dict[str, np.ndarray],
) -> None:
    """Offer the previous turn of the same session, even when it is not among the most similar.

    ``chunk_vecs`` holds the vectors of the chunk's notes: the previous turn is usually
    in the same chunk, and its vector is already at hand.
    """
    session = item.provenance.session
    if session is None:
        return
    key = tail_key(item.scope, session)
    prev_id = tails.get(key) or await parts.graph.aget_meta(key)
    if not prev_id or any(c.note.id == prev_id for c in found):
        return
    prev = working.get(prev_id) or (await parts.graph.aget_notes(item.scope, [prev_id]))[0]
    if prev is None:
        return
    pvec = chunk_vecs.get(prev_id)
    if pvec is None:
        stored = await asyncio.to_thread(parts.vectors.get_vectors, [prev_id], item.scope)
        pvec = stored.get(prev_id)
    if pvec is None:  # neither in this chunk nor stored (a repair case): embed its text
        pvec = (await parts.embed([prev.embedding_text()]))[0]
    found.append(Candidate(note=prev, similarity=float(pvec @ vec)))


def note_from(cfg: AgentsConfig, item: MemoryInput, decision: Decision, note_id: str | None = None) -> Note:
    """The note an item becomes under a decision's draft (labels cleaned and capped)."""
    d = decision.draft
    cap_k, cap_t = cfg.max_keywords + 4, cfg.max_tags + 4
    return Note(
        id=note_id or new_id(),
        content=item.content,
        keywords=clean_labels(d.keywords, cap_k, strict=False),  # machine-made: cut or dropped, never refused
        tags=clean_labels(item.tags, len(item.tags)) + clean_labels(
            [t for t in d.tags if str(t).casefold() not in {u.casefold() for u in item.tags}], cap_t, strict=False),
        context=d.context.strip()[:500],
        memory_type=item.memory_type or d.memory_type,
        entities=clean_labels(d.entities, 20, strict=False),
        scope=item.scope,
        event_time=item.event_time or d.event_time,
        valid_from=item.event_time or d.event_time,
        built_by=d.built_by,
        provenance=item.provenance,
        metadata=item.metadata,
    )


async def stored_usage(parts: EngineParts, delta: Usage) -> dict[str, str]:
    """The store's LLM counts plus this chunk's (graph meta, committed with the notes)."""
    meter = parts.agents.meter
    if meter is None:
        return {}
    reason = meter.fallback_log[-1].reason if delta.fallbacks and meter.fallback_log else None
    value = merge_stored(await parts.graph.aget_meta(STORED_KEY), delta.model_dump(), reason)
    return {} if value is None else {STORED_KEY: value}


async def commit(
    parts: EngineParts, new: Sequence[Note], vecs: np.ndarray, results: Sequence[AddResult],
    working: dict[str, Note], tails: dict[str, str], meta: dict[str, str] | None = None,
) -> None:
    """The one write path: vectors first (idempotent), then one graph transaction."""
    new_ids = {n.id for n in new}
    evolved = [working[cid] for cid in {c.note_id for r in results for c in r.changes} if cid not in new_ids]
    final_new = [working[n.id] for n in new]
    texts_changed = [i for i, n in enumerate(final_new) if n.embedding_text() != new[i].embedding_text()]
    if texts_changed:
        vecs[texts_changed] = await parts.embed([final_new[i].embedding_text() for i in texts_changed])
    text_touched = {c.note_id for r in results for c in r.changes if "context" in c.after}
    rewritten = [n for n in evolved if n.id in text_touched]
    if rewritten:
        vecs = np.vstack([vecs, await parts.embed([n.embedding_text() for n in rewritten])])
    await upsert_vectors(parts, [*final_new, *rewritten], vecs,
                         refresh=[n for n in evolved if n.id not in text_touched])
    ops: list[Any] = [PutNotes(tuple(final_new + evolved))]
    for scope in {n.scope for n in final_new} | {r.note.scope for r in results}:
        links = tuple(lk for r in results if r.note.scope == scope for lk in r.links)
        changes = tuple(c for r in results if r.note.scope == scope for c in (*r.changes, *r.rejected))
        ops += [PutLinks(scope, links), PutChanges(scope, changes)]
    ops += [PutMeta(key, value) for key, value in {**tails, **(meta or {})}.items()]
    await parts.graph.abatch(ops)
    for r in results:
        r.note = working[r.note.id]


async def upsert_vectors(parts: EngineParts, notes: Sequence[Note], vecs: np.ndarray,
                         refresh: Sequence[Note] = ()) -> None:
    """Upsert notes' vectors with their metadata (version, scope, text hash).

    ``refresh`` notes (text unchanged, metadata new) ride along with their stored
    vectors: one index write instead of an upsert plus a metadata update, since each
    write is a durable commit in Chroma, the dearest step of a single ``add``.
    """
    notes = list(notes)
    for scope in {n.scope for n in refresh}:
        mine = [n for n in refresh if n.scope == scope]
        stored = await asyncio.to_thread(parts.vectors.get_vectors, [n.id for n in mine], scope)
        keep = [n for n in mine if n.id in stored]
        if keep:
            vecs = np.vstack([vecs[: len(notes)], [stored[n.id] for n in keep]])
            notes += keep
    if notes:
        metas = [vector_metadata(n, text_hash(n)) for n in notes]
        await asyncio.to_thread(parts.vectors.upsert, [n.id for n in notes], vecs[: len(notes)], metas)


async def refresh_metadata(parts: EngineParts, notes: Sequence[Note]) -> None:
    """Rewrite the vector metadata of notes whose embedded text did not change."""
    if notes:
        metas = [vector_metadata(n, text_hash(n)) for n in notes]
        await asyncio.to_thread(parts.vectors.update_metadata, [n.id for n in notes], metas)


async def reembed(parts: EngineParts, notes: Sequence[Note]) -> None:
    """Refresh vectors of rewritten notes (metadata only when the text is unchanged)."""
    if not notes:
        return
    vecs = await parts.embed([n.embedding_text() for n in notes])
    await upsert_vectors(parts, notes, vecs)


async def write_change(
    parts: EngineParts, note: Note, fields: dict[str, Any], rationale: str,
    kind: Literal["update", "revert"], agent: BuiltBy, reverts: str | None = None,
    pinned: list[str] | None = None,
) -> Change:
    """Write one user change (update or revert) of ``note``: vectors, then one graph batch.

    ``pinned``: the note's pinned fields afterwards (a user update pins what it set).
    """
    current = note.evolvable()
    after = {f: v for f, v in fields.items() if current.get(f) != v}
    change = Change(note_id=note.id, scope=note.scope, version_before=note.version,
                    version_after=note.version + 1, before={f: current[f] for f in after}, after=after,
                    rationale=rationale, agent=agent, kind=kind, reverts=reverts)
    if not after:
        if pinned is not None and pinned != note.pinned:  # same values, but now pinned
            await parts.graph.abatch([PutNotes((note.model_copy(update={"pinned": pinned}),))])
        return change.model_copy(update={"version_after": note.version})
    new = with_change(note, change)
    if pinned is not None:
        new = new.model_copy(update={"pinned": pinned})
    if "context" in after:
        await reembed(parts, [new])
    else:
        await refresh_metadata(parts, [new])
    await parts.graph.abatch([PutNotes((new,)), PutChanges(note.scope, (change,))])
    return change
