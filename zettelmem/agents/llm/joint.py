"""Joint mode: one structured call decides a memory's note, links and evolutions.

``decide`` packs up to ``batch_size`` memories into one call and runs the calls of
one batch concurrently (at most ``max_concurrency`` at a time). The reply schema
has one required property per memory id of the pack (:func:`joint_reply`), so a
server that constrains decoding cannot merge or drop memories. A memory a reply
still leaves out gets one targeted call of its own; a call that fails for good
(after retries and one repair), a spent budget, or a memory still missing sends
those memories to the offline agents, labelled in ``built_by`` (or, with
``required``, raises :class:`~zettelmem.errors.LLMRequired`).

Each decision carries the model's truth verdicts (``Decision.verdicts``): its
``supersedes`` / ``contradicts`` links and the offered notes an entry lists under
``duplicates``; the engine guards them (:mod:`zettelmem.engine.truth`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from zettelmem.agents.base import Candidate, Decision, MemoryInput
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
from zettelmem.agents.llm.render import render_joint
from zettelmem.agents.llm.runtime import Runtime, fallback_reason
from zettelmem.agents.llm.schemas import JointContext, JointEntry, NoteView, joint_reply
from zettelmem.errors import LLMError

__all__ = ["JointLLMAgent"]

TASK = "joint"


class JointLLMAgent:
    """Builds, links and evolves several memories per model call."""

    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime

    def context(
        self, items: Sequence[MemoryInput], candidates: Sequence[Sequence[Candidate]]
    ) -> tuple[JointContext, IdMap, IdMap]:
        """The prompt context of one packed call, with its memory and note id maps.

        Notes offered to several memories of the pack are shown once; each memory
        lists the ids offered to it, in the order given — unless every memory was
        offered every note (always so for a single memory), where the lists are left
        out (the prompt says: no list, any note shown).
        """
        mem_ids, note_ids = IdMap("m"), IdMap("n")
        notes: list[NoteView] = []
        offered: list[list[str]] = []
        for cands in candidates:
            mine: list[str] = []
            for cand in cands:
                known = len(note_ids)
                short = note_ids.add(cand.note.id)
                if len(note_ids) > known:
                    notes.append(note_view(short, cand.note, max_chars=self.rt.settings.candidate_chars))
                if short not in mine:
                    mine.append(short)
            offered.append(mine)
        everything = all(len(mine) == len(notes) for mine in offered)
        memories = [
            memory_view(mem_ids.add(str(i)), item, None if everything else mine)
            for i, (item, mine) in enumerate(zip(items, offered, strict=True))
        ]
        ctx = JointContext(memories=memories, notes=notes, limits=self.rt.limits)
        return ctx, mem_ids, note_ids

    async def decide(self, items: Sequence[MemoryInput], candidates: Sequence[Sequence[Candidate]]) -> list[Decision]:
        """One decision per memory, in order; never fewer (see module doc)."""
        if len(items) != len(candidates):
            raise ValueError(f"{len(items)} memories but {len(candidates)} candidate lists")
        size = self.rt.settings.batch_size
        spans = [range(i, min(i + size, len(items))) for i in range(0, len(items), size)]
        with self.rt.meter.ensure_operation():
            parts = await asyncio.gather(
                *(self._decide_pack([items[i] for i in s], [candidates[i] for i in s]) for s in spans)
            )
        return [decision for part in parts for decision in part]

    async def _decide_pack(
        self, items: list[MemoryInput], candidates: list[Sequence[Candidate]], *, retry: bool = True
    ) -> list[Decision]:
        ctx, mem_ids, note_ids = self.context(items, candidates)
        try:
            async with self.rt.limiter:
                reply = await self.rt.llm.complete(render_joint(ctx), joint_reply(len(items)), task=TASK)
        except LLMError as exc:
            return await self.rt.offline_decide(items, candidates, fallback_reason(exc), task=TASK)

        meter = self.rt.meter
        for written, reason in reply.dropped():
            meter.record_dropped(TASK, "memory", written, reason)
        decided: dict[int, Decision] = {}
        texts = {mem_ids.short(str(i)): item.content for i, item in enumerate(items)}
        entries = unshare(reply.entries(), texts, [n.context for n in ctx.notes])
        for short, entry in entries.items():
            index = int(mem_ids.real(short) or 0)
            decided[index] = self._decision(entry, items[index], candidates[index], note_ids)

        missing = [i for i in range(len(items)) if i not in decided]
        if missing and retry and len(items) > 1:
            # one targeted call per memory left out, before falling back
            again = await asyncio.gather(
                *(self._decide_pack([items[i]], [candidates[i]], retry=False) for i in missing)
            )
            decided.update((i, d[0]) for i, d in zip(missing, again, strict=True))
        elif missing:
            fallback = await self.rt.offline_decide(
                [items[i] for i in missing],
                [candidates[i] for i in missing],
                "missing_from_reply",
                task=TASK,
            )
            decided.update(zip(missing, fallback, strict=True))
        return [decided[i] for i in range(len(items))]

    def _decision(self, entry: JointEntry, item: MemoryInput, cands: Sequence[Candidate], note_ids: IdMap) -> Decision:
        rt, limits = self.rt, self.rt.limits
        offered = {c.note.id for c in cands}
        links = links_from(entry.links, note_ids, offered, limits=limits, meter=rt.meter, task=TASK)
        evolutions = []
        if limits.evolve:
            targets = {link.target_id for link in links}
            linked = {c.note.id: c.note for c in cands if c.note.id in targets}
            evolutions = evolutions_from(
                entry.evolve,
                note_ids,
                linked,
                limits=limits,
                meter=rt.meter,
                task=TASK,
                agent=rt.built_by(TASK),
            )
        draft = draft_from(entry, item, limits, rt.built_by(TASK))
        # the model's verdicts, from the same reply: supersedes / contradicts links and duplicates
        verdicts = verdicts_from(links, entry.duplicates, note_ids, offered, meter=rt.meter, task=TASK,
                                 agent=draft.built_by)
        return Decision(draft=draft, links=links, evolutions=evolutions, verdicts=verdicts)
