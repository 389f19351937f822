"""Staged mode: separate build, link and evolve calls (the joint agent's fallback
shape, and a baseline). Each agent falls back to its offline counterpart when its
call fails for good; the fallback is counted in the meter and labelled."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from zettelmem.agents.base import (
    Candidate,
    EvolutionProposal,
    LinkProposal,
    MemoryInput,
    NoteDraft,
)
from zettelmem.agents.llm.mapping import (
    IdMap,
    draft_from,
    evolutions_from,
    links_from,
    memory_view,
    note_view,
    unshare,
    verdicts_from,
)
from zettelmem.agents.llm.render import render_build, render_evolve, render_link
from zettelmem.agents.llm.runtime import Runtime, fallback_reason
from zettelmem.agents.llm.schemas import (
    BuildContext,
    EvolveContext,
    EvolveReply,
    LinkContext,
    LinkedView,
    LinkReply,
    build_reply,
)
from zettelmem.agents.verdicts import TruthVerdict
from zettelmem.errors import LLMError
from zettelmem.models import Note

__all__ = ["LLMEvolver", "LLMLinker", "LLMNoteBuilder"]


class LLMNoteBuilder:
    """Builds note attributes, up to ``batch_size`` memories per call."""

    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime

    async def build(self, items: Sequence[MemoryInput]) -> list[NoteDraft]:
        """One draft per memory, in order."""
        size = self.rt.settings.batch_size
        spans = [list(items[i : i + size]) for i in range(0, len(items), size)]
        with self.rt.meter.ensure_operation():
            parts = await asyncio.gather(*(self._build_pack(span) for span in spans))
        return [draft for part in parts for draft in part]

    async def _build_pack(self, items: list[MemoryInput], *, retry: bool = True) -> list[NoteDraft]:
        rt = self.rt
        mem_ids = IdMap("m")
        views = [memory_view(mem_ids.add(str(i)), item) for i, item in enumerate(items)]
        ctx = BuildContext(memories=views, limits=rt.limits)
        try:
            async with rt.limiter:
                reply = await rt.llm.complete(render_build(ctx), build_reply(len(items)), task="build")
        except LLMError as exc:
            return await rt.offline_build(items, fallback_reason(exc))
        for written, reason in reply.dropped():
            rt.meter.record_dropped("build", "memory", written, reason)
        drafts: dict[int, NoteDraft] = {}
        texts = {mem_ids.short(str(i)): item.content for i, item in enumerate(items)}
        for short, entry in unshare(reply.entries(), texts).items():
            index = int(mem_ids.real(short) or 0)
            drafts[index] = draft_from(entry, items[index], rt.limits, rt.built_by("build"))
        missing = [i for i in range(len(items)) if i not in drafts]
        if missing and retry and len(items) > 1:
            again = await asyncio.gather(*(self._build_pack([items[i]], retry=False) for i in missing))
            drafts.update((i, d[0]) for i, d in zip(missing, again, strict=True))
        elif missing:
            fallback = await rt.offline_build([items[i] for i in missing], "missing_from_reply")
            drafts.update(zip(missing, fallback, strict=True))
        return [drafts[i] for i in range(len(items))]


class LLMLinker:
    """Chooses links from a new note to its offered candidates, and judges them (one call)."""

    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime

    async def link(self, note: Note, candidates: Sequence[Candidate]) -> list[LinkProposal]:
        """Links to offered candidates only; no call when there is nothing to link to."""
        return (await self.link_judged(note, candidates))[0]

    async def link_judged(
        self, note: Note, candidates: Sequence[Candidate]
    ) -> tuple[list[LinkProposal], list[TruthVerdict] | None]:
        """Links and the model's truth verdicts (supersedes / contradicts links, duplicates); the
        verdicts are None when the offline linker answered (or no call was made)."""
        rt = self.rt
        if not candidates or rt.limits.max_links == 0:
            return [], None
        ids = IdMap("n")
        views = []
        for cand in candidates:
            known = len(ids)
            short = ids.add(cand.note.id)
            if len(ids) > known:
                views.append(
                    note_view(
                        short,
                        cand.note,
                        max_chars=rt.settings.candidate_chars,
                        similarity=cand.similarity,
                    )
                )
        new = note_view("new", note, max_chars=len(note.content) + 1)
        ctx = LinkContext(note=new, candidates=views, limits=rt.limits)
        with rt.meter.ensure_operation():
            try:
                async with rt.limiter:
                    reply = await rt.llm.complete(render_link(ctx), LinkReply, task="link")
            except LLMError as exc:
                rt.fallback("link", fallback_reason(exc))
                return list(await rt.offline.linker.link(note, candidates)), None
        offered = {c.note.id for c in candidates}
        links = links_from(reply.links, ids, offered, limits=rt.limits, meter=rt.meter, task="link")
        verdicts = verdicts_from(links, reply.duplicates, ids, offered, meter=rt.meter, task="link",
                                 agent=rt.built_by("link"))
        return links, verdicts


class LLMEvolver:
    """Proposes rewrites of the notes a new note was linked to (one call)."""

    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime

    async def evolve(
        self, trigger: Note, linked: Sequence[Note], links: Sequence[LinkProposal]
    ) -> list[EvolutionProposal]:
        """Proposals for ``linked`` notes only; no call when evolution is off or nothing
        is linked."""
        rt = self.rt
        if not rt.limits.evolve or not linked:
            return []
        by_target = {link.target_id: link for link in links}
        ids = IdMap("n")
        notes: dict[str, Note] = {}
        views = []
        for note in linked:
            if note.id in notes:
                continue
            notes[note.id] = note
            base = note_view(ids.add(note.id), note, max_chars=rt.settings.candidate_chars)
            link = by_target.get(note.id)
            views.append(
                LinkedView(
                    **base.model_dump(),
                    relation=link.relation if link else LinkedView.model_fields["relation"].default,
                    link_rationale=link.rationale if link else "",
                )
            )
        new = note_view("new", trigger, max_chars=len(trigger.content) + 1)
        ctx = EvolveContext(trigger=new, linked=views, limits=rt.limits)
        with rt.meter.ensure_operation():
            try:
                async with rt.limiter:
                    reply = await rt.llm.complete(render_evolve(ctx), EvolveReply, task="evolve")
            except LLMError as exc:
                reason = fallback_reason(exc)
                rt.fallback("evolve", reason)
                proposals = await rt.offline.evolver.evolve(trigger, linked, links)
                return [
                    p.model_copy(update={"agent": p.agent.model_copy(update={"fallback_reason": reason})})
                    for p in proposals
                ]
        return evolutions_from(
            reply.updates,
            ids,
            notes,
            limits=rt.limits,
            meter=rt.meter,
            task="evolve",
            agent=rt.built_by("evolve"),
        )
