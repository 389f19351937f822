"""Multi-step search: from the hybrid hits, follow links and topic notes, re-score, merge, repeat.

The first step is the hybrid search of :mod:`~zettelmem.engine.search` (its fused
scores, before the cut to ``k``). Each further step, up to ``steps``:

1. *expand*: the top ``seeds`` notes not expanded yet read their links (one bounded
   read); a topic note leads to its members, a member to its topic note (links
   ``summarizes``), any other link to its other end. Each reached note gets the prior
   ``seed score x link weight``; the best ``candidates`` of them are kept;
2. *re-score*: the candidates' stored vectors (and the seeds', one bounded read) give
   their cosine to the query; a candidate under ``dense_min_score`` is dropped;
3. *merge*: a candidate scores ``seed score x decay x min(1, its cosine / the
   seed's) ** relevance`` -- as relevant as the note that led to it, one ``decay``
   lower -- and keeps the better of that and what it had.

With ``feedback`` > 0, the second step also re-runs the query with the top hits'
keywords and entities (through the store's full-text op) and with the query vector
moved toward theirs (one vector query): pseudo-relevance feedback, fused as two
more RRF lists of weight ``feedback_weight``.

Every note a step scores says how it was reached (a :class:`Reason` of kind ``step``
with the hop and the path of notes walked). No step reads more than ``seeds``
notes' links and ``candidates`` notes and vectors: the cost grows with the
budget, never with the scope.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from zettelmem.config import MultiStepConfig
from zettelmem.engine.parts import EngineParts
from zettelmem.engine.results import Reason
from zettelmem.filters import Filter
from zettelmem.models import Link, Note, Relation, Scope

__all__ = ["Fusion", "collapse_members", "multistep_search"]

_WORD = re.compile(r"[A-Za-z][\w'-]+")


@dataclass
class Fusion:
    """A search's fused ranking so far (scores by note id, their reasons and notes)."""

    query: str
    qvec: np.ndarray
    where: Filter | None
    fused: dict[str, float]
    why: dict[str, list[Reason]]
    notes: dict[str, Note]
    keep: Callable[[Note], bool]
    floors: bool  # whether the minimum scores apply (enough candidates)
    vecs: dict[str, np.ndarray] = field(default_factory=dict)
    paths: dict[str, list[str]] = field(default_factory=dict)  # note -> notes walked to reach it

    def top(self, n: int) -> list[str]:
        return sorted(self.fused, key=lambda i: (-self.fused[i], i))[:n]


Hop = Literal["topic", "member", "link"]


def _hop(link: Link, seed: str) -> Hop:
    if link.relation != Relation.SUMMARIZES:
        return "link"
    return "topic" if link.source == seed else "member"


def _topic_members(note: Note) -> list[str]:
    return [str(m) for m in note.metadata.get("members", [])] if note.metadata.get("zm_level") else []


async def _vectors(parts: EngineParts, scope: Scope, state: Fusion, ids: Sequence[str]) -> None:
    missing = [i for i in ids if i not in state.vecs]
    if missing:
        state.vecs.update(await asyncio.to_thread(parts.vectors.get_vectors, missing, scope))


def _cos(state: Fusion, i: str) -> float | None:
    v = state.vecs.get(i)
    if v is None:
        return None
    n = float(np.linalg.norm(v)) * float(np.linalg.norm(state.qvec))
    return float(v @ state.qvec) / n if n else 0.0


async def _step(parts: EngineParts, scope: Scope, state: Fusion, cfg: MultiStepConfig, n: int,
                expanded: dict[str, float], floor: float) -> bool:
    """One expansion step; False when there is nothing left to expand.

    The frontier is the top ``seeds`` notes not expanded yet, or expanded with a lower score
    than they have now (their neighbours deserve the better score).
    """
    frontier = [i for i in state.top(cfg.seeds + len(expanded))
                if expanded.get(i, -1.0) < state.fused[i]][: cfg.seeds]
    if not frontier:
        return False
    expanded.update({i: state.fused[i] for i in frontier})
    links = await parts.graph.aget_links(scope, frontier)
    best: dict[str, tuple[float, str, Link]] = {}
    before = {i: state.fused[i] for i in frontier}  # seeds' scores as the step starts
    for lk in links:
        for seed in (lk.source, lk.target):
            other = lk.other(seed)
            if seed not in before or other == seed:
                continue
            prior = before[seed] * lk.weight
            if other not in best or prior > best[other][0]:
                best[other] = (prior, seed, lk)
    cands = sorted(best, key=lambda i: (-best[i][0], i))[: cfg.candidates]
    if not cands:
        return True
    missing = [i for i in cands if i not in state.notes]
    if missing:
        for note in await parts.graph.aget_notes(scope, missing):
            if note is not None and state.keep(note):
                state.notes[note.id] = note
    cands = [i for i in cands if i in state.notes]
    await _vectors(parts, scope, state, [*cands, *{best[i][1] for i in cands}])
    for i in cands:
        _, seed, lk = best[i]
        cos, seed_cos = _cos(state, i), _cos(state, seed)
        if cos is None or cos < floor:
            continue
        ratio = min(1.0, max(cos, 0.0) / seed_cos) if seed_cos and seed_cos > 0 else 1.0
        score = before[seed] * cfg.decay * ratio**cfg.relevance
        if score <= state.fused.get(i, 0.0):
            continue
        state.fused[i] = score
        path = state.paths.get(seed, [])
        state.paths[i] = [*path, seed]
        reasons = [r for r in state.why.get(i, []) if r.kind != "step"]  # the better path replaces a worse one
        state.why[i] = [*reasons, Reason(kind="step", rank=n, score=cos, via=seed, relation=lk.relation,
                                          weight=lk.weight, hop=_hop(lk, seed), path=path)]
    return True


def _terms(state: Fusion, top: Sequence[str], cap: int) -> list[str]:
    """Keywords and entities of the top hits the query does not already name, most shared first."""
    said = {w.lower() for w in _WORD.findall(state.query)}
    counts: dict[str, int] = {}
    for i in top:
        note = state.notes[i]
        for term in [*note.keywords, *note.entities]:
            t = term.strip()
            if t and t.lower() not in said:
                counts[t] = counts.get(t, 0) + 1
    return [t for t, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))][:cap]


async def _feedback(parts: EngineParts, scope: Scope, state: Fusion, cfg: MultiStepConfig, n: int,
                    rrf_k: int, k: int, floor: float) -> None:
    """Re-run the query with the top hits' terms (full text) and vectors (dense), as two RRF lists."""
    top = [i for i in state.top(cfg.feedback) if not _topic_members(state.notes[i])] or state.top(cfg.feedback)
    terms = _terms(state, top, cfg.feedback_terms)
    await _vectors(parts, scope, state, top)
    vecs = [state.vecs[i] for i in top if i in state.vecs]
    qv = state.qvec + np.mean(np.stack(vecs), axis=0) if vecs else state.qvec
    qv = qv / (float(np.linalg.norm(qv)) or 1.0)
    lexical, dense = await asyncio.gather(
        parts.graph.asearch_text(scope, " ".join([state.query, *terms]), k if terms else 0, "note", state.where),
        asyncio.to_thread(parts.vectors.query, qv, scope, k, state.where),
    )
    lists = [(lexical, ", ".join(terms)), ([(h.id, h.similarity) for h in dense if h.similarity >= floor],
                                           "the top hits' vectors")]
    missing = list(dict.fromkeys(i for ranked, _ in lists for i, _ in ranked if i not in state.notes))
    if missing:
        for note in await parts.graph.aget_notes(scope, missing):
            if note is not None and state.keep(note):
                state.notes[note.id] = note
    for ranked, what in lists:
        for rank, (i, s) in enumerate([(i, s) for i, s in ranked if i in state.notes], 1):
            state.fused[i] = state.fused.get(i, 0.0) + cfg.feedback_weight / (rrf_k + rank)
            state.why.setdefault(i, []).append(Reason(kind="step", rank=n, score=s, hop="feedback", via=what))


async def multistep_search(parts: EngineParts, scope: Scope, state: Fusion) -> None:
    """Run the steps after the first on ``state`` (in place), within the configured budget."""
    search = parts.settings.search
    cfg = search.multistep
    floor = search.dense_min_score if state.floors else float("-inf")
    expanded: dict[str, float] = {}  # note -> its score when its links were followed
    for n in range(2, cfg.steps + 2):
        if n == 2 and cfg.feedback:
            await _feedback(parts, scope, state, cfg, n, search.rrf_k, max(search.dense_k, search.lexical_k), floor)
        if not await _step(parts, scope, state, cfg, n, expanded, floor):
            break


def collapse_members(order: Sequence[str], notes: dict[str, Note]) -> list[str]:
    """``order`` without the notes a topic note ranked above them already covers (its members)."""
    covered: set[str] = set()
    out = []
    for i in order:
        if i in covered:
            continue
        out.append(i)
        covered.update(_topic_members(notes[i]))
    return out
