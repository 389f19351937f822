"""Hybrid retrieval: dense + BM25, fused by reciprocal rank, then spread along links.

1. dense: Chroma top ``dense_k`` in the scope (pre-filtered by the compiled filter);
2. lexical: the graph store's full-text top ``lexical_k`` (BM25: SQLite FTS5 or
   Neo4j's Lucene index) over content + attributes, and over the same plus the
   note each one answers or follows (the *thread* list), filtered in the store;
3. fusion: each list first drops matches below its minimum score
   (``dense_min_score`` cosine, ``lexical_min_score`` BM25: noise never ranks nor
   explains a hit), once the dense list holds ``min_score_notes`` candidates (in
   a scope of a few notes every match counts); then weighted RRF, score = Σ w_list / (rrf_k + rank) over the
   lists a note is in; notes whose speaker or entities the query names get ``entity_boost``;
4. graph: each of the top ``expand_seeds`` fused hits passes
   ``seed score × link weight × relation factor`` to its linked notes; those
   notes, ranked by their best such path, form one more RRF list (weight
   ``graph_weight``), so a linked note joins the ranking without leapfrogging
   the direct hits that led to it;
5. multi-step (on when topic notes are, :mod:`~zettelmem.engine.search_multistep`):
   follow links and topic notes from the top hits, re-score what they reach against
   the query from its stored vector, within a budget per step; with ``collapse``, a
   member ranked below its topic note is covered by that hit instead of listed again.

Every hit says which of these brought it (:class:`~zettelmem.engine.results.Reason`).
"""

from __future__ import annotations

import asyncio
import re

from zettelmem.engine.parts import EngineParts
from zettelmem.engine.results import Reason, SearchHit
from zettelmem.engine.search_multistep import Fusion, collapse_members, multistep_search
from zettelmem.filters import Filter, predicate
from zettelmem.models import Note, Relation, Scope
from zettelmem.stores.base import SearchText

__all__ = ["RELATION_FACTOR", "hybrid_search"]

RELATION_FACTOR: dict[Relation, float] = {
    Relation.ANSWERS: 1.0,
    Relation.FOLLOWS: 0.8,
    Relation.SAME_ENTITY: 0.8,
    Relation.ELABORATES: 0.9,
    Relation.SUPPORTS: 0.8,
    Relation.RELATES_TO: 0.7,
    Relation.CONTRADICTS: 0.7,
    Relation.SUPERSEDES: 0.7,
}


async def hybrid_search(
    parts: EngineParts, query: str, scope: Scope, k: int, where: Filter | None, expand: bool | None,
    multistep: bool | None = None,
) -> list[SearchHit]:
    cfg = parts.settings.search
    steps = cfg.multistep
    if multistep is None:
        multistep = steps.enabled if steps.enabled is not None else parts.settings.consolidation.enabled
    wanted = predicate(where)

    def keep(note: Note) -> bool:  # soft-forgotten notes never come back from search
        return not note.forgotten and wanted(note)

    qvec = (await parts.embed([query]))[0]
    lex_k = max(cfg.lexical_k, k)
    texts = [SearchText(scope, query, lex_k, "note", where),  # both lists in one store batch:
             SearchText(scope, query, lex_k if cfg.thread_weight else 0, "thread", where)]  # one Neo4j transaction
    dense, (lexical, thread) = await asyncio.gather(
        asyncio.to_thread(parts.vectors.query, qvec, scope, max(cfg.dense_k, k), where),
        parts.graph.abatch(texts),
    )
    ids = list(dict.fromkeys([h.id for h in dense] + [i for i, _ in lexical] + [i for i, _ in thread]))
    notes: dict[str, Note] = {
        n.id: n for n in await parts.graph.aget_notes(scope, ids) if n is not None and keep(n)
    }
    fused: dict[str, float] = {}
    why: dict[str, list[Reason]] = {}
    lists = [
        ("dense", cfg.dense_weight, cfg.dense_min_score, [(h.id, h.similarity) for h in dense]),
        ("lexical", cfg.lexical_weight, cfg.lexical_min_score, lexical),
        ("thread", cfg.thread_weight, cfg.lexical_min_score, thread),
    ]
    floors = len(dense) >= cfg.min_score_notes
    for kind, weight, floor, ranked in lists:
        floor = floor if floors else float("-inf")
        for rank, (i, s) in enumerate([(i, s) for i, s in ranked if i in notes and s >= floor], 1):
            fused[i] = fused.get(i, 0.0) + weight / (cfg.rrf_k + rank)
            why.setdefault(i, []).append(Reason(kind=kind, rank=rank, score=s))  # type: ignore[arg-type]
    if cfg.entity_boost:
        named = _named(query)
        for i in fused:
            who = {notes[i].provenance.speaker or "", *notes[i].entities} & named
            if who:
                fused[i] *= 1.0 + cfg.entity_boost
                why[i].append(Reason(kind="entity", score=cfg.entity_boost, via=", ".join(sorted(who))))
    if cfg.expand if expand is None else expand:
        await _expand(parts, scope, fused, why, notes, keep, cfg.expand_seeds, cfg.graph_weight, cfg.rrf_k)
    if multistep:
        state = Fusion(query=query, qvec=qvec, where=where, fused=fused, why=why, notes=notes, keep=keep,
                       floors=floors,
                       paths={i: [str(r.via)] for i, rs in why.items() for r in rs if r.kind == "graph"})
        await multistep_search(parts, scope, state)
    if where is None or where.current is None:
        demote_closed(fused, why, notes, cfg.superseded_weight)
    if cfg.cold_weight != 1.0:  # notes a consolidate pass demoted as cold (engine/heat.py)
        for i in fused:
            if notes[i].cold is not None:
                fused[i] *= cfg.cold_weight
                why[i].append(Reason(kind="cold", score=cfg.cold_weight))
    if cfg.heat_weight:
        from zettelmem.engine.access import heat

        for i in fused:
            fused[i] *= 1.0 + cfg.heat_weight * heat(notes[i])
    order = sorted(fused, key=lambda i: -fused[i])
    if multistep and steps.collapse:
        order = collapse_members(order, notes)
    return [SearchHit(note=notes[i], score=fused[i], why=why[i], members=_members(notes[i])) for i in order[:k]]


def _members(note: Note) -> list[str]:
    """The notes a topic note gathers (empty for a plain note)."""
    return [str(m) for m in note.metadata.get("members", [])] if note.metadata.get("zm_level") else []


def demote_closed(fused: dict[str, float], why: dict[str, list[Reason]], notes: dict[str, Note],
                  factor: float) -> None:
    """Rank superseded (closed) notes below current ones: their score times ``factor``."""
    for i in fused:
        if notes[i].valid_to is not None and factor != 1.0:
            fused[i] *= factor
            why.setdefault(i, []).append(Reason(kind="superseded", score=factor))


def _named(query: str) -> set[str]:
    """Capitalised words and runs in the query (names it mentions)."""
    words = re.findall(r"\b[A-Z][\w'-]+(?:\s+[A-Z][\w'-]+)*", query)
    out = set(words)
    for w in words:
        out.update(w.replace("'s", "").split())
    return out


async def _expand(parts: EngineParts, scope: Scope, fused: dict[str, float], why: dict[str, list[Reason]],
                  notes: dict[str, Note], keep: object, seeds_n: int, weight: float, rrf_k: int) -> None:
    seeds = sorted(fused, key=lambda i: -fused[i])[:seeds_n]
    if not seeds:
        return
    links = await parts.graph.aget_links(scope, seeds)
    best: dict[str, tuple[float, Reason]] = {}
    seed_set = set(seeds)
    for lk in links:
        for seed in (lk.source, lk.target):
            if seed not in seed_set:
                continue
            other = lk.other(seed)
            gain = fused[seed] * lk.weight * RELATION_FACTOR.get(lk.relation, 0.7)
            if other not in best or gain > best[other][0]:
                best[other] = (gain, Reason(kind="graph", via=seed, relation=lk.relation, weight=lk.weight, score=gain))
    missing = [i for i in best if i not in notes]
    if missing:
        for n in await parts.graph.aget_notes(scope, missing):
            if n is not None and keep(n):  # type: ignore[operator]
                notes[n.id] = n
    ranked = sorted((o for o in best if o in notes), key=lambda o: (-best[o][0], o))  # ties: by id, not link order
    for rank, other in enumerate(ranked, 1):
        reason = best[other][1].model_copy(update={"rank": rank})
        fused[other] = fused.get(other, 0.0) + weight / (rrf_k + rank)
        why.setdefault(other, []).append(reason)
