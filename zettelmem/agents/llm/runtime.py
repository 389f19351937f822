"""What the LLM agents share: the model, settings, a concurrency limiter and the
offline fallback that guarantees no memory is lost when a model misbehaves."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import TracebackType

from zettelmem.agents.base import AgentSuite, Candidate, Decision, MemoryInput, NoteDraft
from zettelmem.agents.llm.render import prompt_version
from zettelmem.agents.llm.schemas import Limits
from zettelmem.config import AgentsConfig
from zettelmem.errors import BudgetExceeded, LLMRequired
from zettelmem.llm.accounting import UsageMeter
from zettelmem.llm.config import LLMSettings
from zettelmem.llm.protocol import StructuredLLM
from zettelmem.models import BuiltBy, Note

__all__ = ["Limiter", "Runtime", "fallback_reason", "mark_fallback", "note_for"]

_MAX_REASON = 200


class Limiter:
    """At most ``limit`` concurrent model calls per event loop, shared by a suite.

    One semaphore per running loop, so the sync facade may drive the agents from
    more than one loop without a semaphore bound to a dead one.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._sems: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary()
        )

    def _sem(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        sem = self._sems.get(loop)
        if sem is None:
            sem = self._sems[loop] = asyncio.Semaphore(self.limit)
        return sem

    async def __aenter__(self) -> None:
        await self._sem().acquire()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._sem().release()


def fallback_reason(exc: BaseException) -> str:
    """A short, stable reason for ``built_by.fallback_reason``."""
    if isinstance(exc, BudgetExceeded):
        return "budget_exceeded"
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= _MAX_REASON else text[: _MAX_REASON - 1] + "…"


def mark_fallback(draft: NoteDraft, reason: str) -> NoteDraft:
    """The draft labelled as built offline because the LLM path failed."""
    built_by = draft.built_by.model_copy(update={"kind": "offline", "fallback_reason": reason})
    return draft.model_copy(update={"built_by": built_by})


def note_for(item: MemoryInput, draft: NoteDraft) -> Note:
    """A provisional note (fresh id) for a memory and its draft, to hand to a linker."""
    return Note(
        content=item.content,
        keywords=draft.keywords,
        tags=draft.tags,
        context=draft.context,
        memory_type=draft.memory_type,
        entities=draft.entities,
        scope=item.scope,
        event_time=draft.event_time or item.event_time,
        built_by=draft.built_by,
        provenance=item.provenance,
        metadata=dict(item.metadata),
    )


@dataclass
class Runtime:
    """Dependencies of the LLM agents of one suite."""

    llm: StructuredLLM
    settings: LLMSettings
    agents: AgentsConfig
    offline: AgentSuite
    limiter: Limiter = field(init=False)

    def __post_init__(self) -> None:
        self.limiter = Limiter(self.settings.max_concurrency)

    @property
    def meter(self) -> UsageMeter:
        return self.llm.meter

    @property
    def limits(self) -> Limits:
        a = self.agents
        return Limits(max_links=a.max_links, max_keywords=a.max_keywords, max_tags=a.max_tags, evolve=a.evolve)

    def built_by(self, task: str) -> BuiltBy:
        """The label of what the LLM built for ``task``."""
        return BuiltBy(kind="llm", agent=f"llm.{task}", version=prompt_version(task), model=self.llm.model_name)

    def fallback(self, task: str, reason: str, memories: int = 1) -> None:
        """Count work handed to the offline agents, or refuse it when the LLM is required.

        Raises:
            LLMRequired: ``settings.required`` is set.
        """
        if self.settings.required:
            raise LLMRequired(
                f"the LLM failed for {memories} memor{'y' if memories == 1 else 'ies'} ({task}): {reason}; "
                "ZETTELMEM_LLM_REQUIRED=1 forbids building notes offline, so nothing was written"
            )
        self.meter.record_fallback(task, reason, memories)

    async def offline_decide(
        self,
        items: Sequence[MemoryInput],
        candidates: Sequence[Sequence[Candidate]],
        reason: str,
        *,
        task: str,
    ) -> list[Decision]:
        """Decide ``items`` with the offline agents, labelled with ``reason``."""
        if not items:
            return []
        self.fallback(task, reason, len(items))
        off = self.offline
        if off.joint is not None:
            decisions = list(await off.joint.decide(items, candidates))
        else:
            drafts = await off.builder.build(items)
            decisions = []
            for item, draft, cands in zip(items, drafts, candidates, strict=True):
                note = note_for(item, draft)
                links = list(await off.linker.link(note, cands))
                evolutions = []
                if self.agents.evolve and links:
                    targets = {link.target_id for link in links}
                    linked = list({c.note.id: c.note for c in cands if c.note.id in targets}.values())
                    evolutions = list(await off.evolver.evolve(note, linked, links))
                decisions.append(Decision(draft=draft, links=links, evolutions=evolutions))
        return [d.model_copy(update={"draft": mark_fallback(d.draft, reason)}) for d in decisions]

    async def offline_build(self, items: Sequence[MemoryInput], reason: str) -> list[NoteDraft]:
        """Build ``items`` with the offline builder, labelled with ``reason``."""
        if not items:
            return []
        self.fallback("build", reason, len(items))
        drafts = await self.offline.builder.build(items)
        return [mark_fallback(d, reason) for d in drafts]
