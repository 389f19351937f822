"""Hybrid retrieval: dense + BM25, fused by reciprocal rank, then spread along links.

1. dense: Chroma top ``dense_k`` in the scope (pre-filtered by the compiled filter);
2. lexical: BM25 top ``lexical_k`` over content + attributes;
3. fusion: RRF, score = Σ 1 / (rrf_k + rank) over the lists a note is in;
4. graph: each of the top ``expand_seeds`` fused hits passes
   ``seed score × expand_decay × link weight × relation factor`` to its linked
   notes; a note keeps the best such path (and its fused score, if any).

Every hit says which of these brought it (:class:`~zettelmem.engine.results.Reason`).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from zettelmem.engine.results import Reason, SearchHit
from zettelmem.filters import Filter, predicate
from zettelmem.models import Note, Relation, Scope

if TYPE_CHECKING:
    from zettelmem.engine.core import AsyncMemory

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
    mem: AsyncMemory, query: str, scope: Scope, k: int, where: Filter | None, expand: bool | None
) -> list[SearchHit]:
    cfg = mem.settings.search
    keep = predicate(where)
    qvec = (await mem._embed([query]))[0]
    dense, lexical = await asyncio.gather(
        asyncio.to_thread(mem.vectors.query, qvec, scope, max(cfg.dense_k, k), where),
        asyncio.to_thread(mem.lexical.search, scope, query, max(cfg.lexical_k, k) * (3 if where else 1)),
    )
    ids = list(dict.fromkeys([h.id for h in dense] + [i for i, _ in lexical]))
    notes: dict[str, Note] = {
        n.id: n for n in await mem.graph.aget_notes(scope, ids) if n is not None and keep(n)
    }
    fused: dict[str, float] = {}
    why: dict[str, list[Reason]] = {}
    ranked_dense = [h for h in dense if h.id in notes]
    ranked_lex = [(i, s) for i, s in lexical if i in notes]
    for rank, h in enumerate(ranked_dense, 1):
        fused[h.id] = fused.get(h.id, 0.0) + 1.0 / (cfg.rrf_k + rank)
        why.setdefault(h.id, []).append(Reason(kind="dense", rank=rank, score=h.similarity))
    for rank, (i, s) in enumerate(ranked_lex, 1):
        fused[i] = fused.get(i, 0.0) + 1.0 / (cfg.rrf_k + rank)
        why.setdefault(i, []).append(Reason(kind="lexical", rank=rank, score=s))
    if cfg.expand if expand is None else expand:
        await _expand(mem, scope, fused, why, notes, keep, cfg.expand_seeds, cfg.expand_decay)
    order = sorted(fused, key=lambda i: -fused[i])[:k]
    return [SearchHit(note=notes[i], score=fused[i], why=why[i]) for i in order]


async def _expand(mem: AsyncMemory, scope: Scope, fused: dict[str, float], why: dict[str, list[Reason]],
                  notes: dict[str, Note], keep: object, seeds_n: int, decay: float) -> None:
    seeds = sorted(fused, key=lambda i: -fused[i])[:seeds_n]
    if not seeds:
        return
    links = await asyncio.to_thread(mem.graph.links_of, scope, seeds)
    best: dict[str, tuple[float, Reason]] = {}
    seed_set = set(seeds)
    for lk in links:
        for seed in (lk.source, lk.target):
            if seed not in seed_set:
                continue
            other = lk.other(seed)
            gain = fused[seed] * decay * lk.weight * RELATION_FACTOR.get(lk.relation, 0.7)
            if other not in best or gain > best[other][0]:
                best[other] = (gain, Reason(kind="graph", via=seed, relation=lk.relation, weight=lk.weight, score=gain))
    missing = [i for i in best if i not in notes]
    if missing:
        for n in await mem.graph.aget_notes(scope, missing):
            if n is not None and keep(n):  # type: ignore[operator]
                notes[n.id] = n
    for other, (gain, reason) in best.items():
        if other in notes:
            fused[other] = fused.get(other, 0.0) + gain
            why.setdefault(other, []).append(reason)
