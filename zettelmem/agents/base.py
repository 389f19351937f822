"""The agent seam: what the engine asks of note builders, linkers and evolvers.

Two families implement it: the offline agents (``zettelmem.agents.offline``, real
algorithms, no LLM) and the LLM agents (``zettelmem.agents.llm``). The engine only
sees these protocols, and it applies the same guards to every proposal (offered
ids only, grounding, optimistic versions) whoever made it.

A *staged* suite runs build → link → evolve; a *joint* agent decides all three for
one or several memories in a single call.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from zettelmem.agents.verdicts import TruthJudge, TruthVerdict
from zettelmem.models import BuiltBy, MemoryType, Note, Provenance, Relation, Scope

if TYPE_CHECKING:
    from zettelmem.llm.accounting import UsageMeter
    from zettelmem.llm.protocol import StructuredLLM

__all__ = [
    "AgentSuite",
    "Candidate",
    "Decision",
    "EvolutionProposal",
    "Evolver",
    "JointAgent",
    "JudgingLinker",
    "LinkProposal",
    "Linker",
    "MemoryInput",
    "NoteBuilder",
    "NoteDraft",
    "TruthJudge",
    "TruthVerdict",
]


class MemoryInput(BaseModel):
    """A new memory as handed to the agents (already validated). Unknown keys are refused."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    content: str
    scope: Scope = Field(default_factory=Scope)
    event_time: datetime | None = None
    provenance: Provenance = Field(default_factory=Provenance)
    metadata: dict[str, Any] = Field(default_factory=dict)
    memory_type: MemoryType | None = None  # caller's hint, wins over the agent's guess
    tags: list[str] = Field(default_factory=list)  # caller's tags, kept besides the agent's


class NoteDraft(BaseModel):
    """The attributes an agent built for a new memory."""

    keywords: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    context: str = ""
    memory_type: MemoryType = MemoryType.EPISODIC
    entities: list[str] = Field(default_factory=list)
    event_time: datetime | None = None
    built_by: BuiltBy = Field(default_factory=BuiltBy)


class Candidate(BaseModel):
    """A possible neighbour offered to a linker: an existing note and its similarity."""

    model_config = ConfigDict(frozen=True)

    note: Note
    similarity: float


class LinkProposal(BaseModel):
    """A link an agent wants from the new note to an offered candidate."""

    target_id: str
    relation: Relation = Relation.RELATES_TO
    weight: float = Field(default=0.5, ge=0.0, le=1.0)
    rationale: str = ""


class EvolutionProposal(BaseModel):
    """A proposed rewrite of a linked note's attributes (None = leave as is)."""

    target_id: str
    expected_version: int
    keywords: list[str] | None = None
    tags: list[str] | None = None
    context: str | None = None
    memory_type: MemoryType | None = None
    rationale: str = ""
    agent: BuiltBy = Field(default_factory=BuiltBy)

    def changes(self) -> dict[str, Any]:
        """The fields this proposal sets, as plain values."""
        out: dict[str, Any] = {}
        for name in ("keywords", "tags", "context", "memory_type"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value.value if isinstance(value, MemoryType) else value
        return out


class Decision(BaseModel):
    """Everything an agent decided about one new memory."""

    draft: NoteDraft
    links: list[LinkProposal] = Field(default_factory=list)
    evolutions: list[EvolutionProposal] = Field(default_factory=list)
    verdicts: list[TruthVerdict] | None = None  # None: this agent did not judge; the suite's TruthJudge does


@runtime_checkable
class NoteBuilder(Protocol):
    """Turns raw memories into note attributes."""

    async def build(self, items: Sequence[MemoryInput]) -> list[NoteDraft]: ...


@runtime_checkable
class Linker(Protocol):
    """Chooses links from a new note to offered candidates."""

    async def link(self, note: Note, candidates: Sequence[Candidate]) -> list[LinkProposal]: ...


@runtime_checkable
class JudgingLinker(Protocol):
    """A linker that gives truth verdicts in the same call (the LLM linker of the staged suite).

    ``link_judged`` returns the links and the linker's verdicts (its ``supersedes`` /
    ``contradicts`` links and the candidates the note duplicates), or None for the
    verdicts when it could not judge (a failed call answered by the offline linker).
    """

    async def link_judged(
        self, note: Note, candidates: Sequence[Candidate]
    ) -> tuple[list[LinkProposal], list[TruthVerdict] | None]: ...


@runtime_checkable
class Evolver(Protocol):
    """Proposes rewrites of the notes a new note was linked to."""

    async def evolve(
        self, trigger: Note, linked: Sequence[Note], links: Sequence[LinkProposal]
    ) -> list[EvolutionProposal]: ...


@runtime_checkable
class JointAgent(Protocol):
    """Builds, links and evolves several memories in as few model calls as it can."""

    async def decide(
        self, items: Sequence[MemoryInput], candidates: Sequence[Sequence[Candidate]]
    ) -> list[Decision]: ...


@dataclass
class AgentSuite:
    """The agents one Memory uses. ``joint`` set means one call per batch decides all."""

    builder: NoteBuilder
    linker: Linker
    evolver: Evolver
    joint: JointAgent | None = None
    name: str = "offline"
    truth: TruthJudge | None = None  # supersedes / contradicts / duplicates when the decision has no verdicts
    #: LLM suites: the meter every call is counted on (stats, per-add usage, budgets)
    meter: UsageMeter | None = None
    #: LLM suites: the structured model the agents call
    llm: StructuredLLM | None = None
    #: LLM suites: the offline suite each memory falls back to when a call fails
    offline: AgentSuite | None = None
    #: closes what the suite holds open (an HTTP client); awaited by ``AsyncMemory.aclose``
    aclose: Callable[[], Awaitable[None]] | None = None
