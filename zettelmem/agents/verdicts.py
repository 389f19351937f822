"""Truth verdicts: what a new memory does to an older one (supersedes, contradicts, duplicates).

Agents return them beside their links; the engine (``zettelmem.engine.truth``)
guards and applies them: a superseded note is closed (``valid_to``) and linked
``supersedes``, a contradicted one only linked ``contradicts``, a duplicate
becomes a new mention of the older note instead of a second note.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from zettelmem.models import BuiltBy, Note, Relation

if TYPE_CHECKING:
    from zettelmem.agents.base import LinkProposal

__all__ = ["TruthJudge", "TruthVerdict", "VerdictKind", "link_verdicts"]

VerdictKind = Literal["supersedes", "contradicts", "duplicates"]


class TruthVerdict(BaseModel):
    """The new memory ``verdict`` the offered note ``target_id`` (independent notes get none)."""

    model_config = ConfigDict(frozen=True)

    target_id: str
    verdict: VerdictKind
    confidence: float = Field(default=0.5, ge=0.0, le=1.0)
    rationale: str = ""
    agent: BuiltBy = Field(default_factory=BuiltBy)


@runtime_checkable
class TruthJudge(Protocol):
    """Decides, for a new note and its offered candidates, which ones it updates, contradicts or repeats."""

    def judge(self, note: Note, candidates: Sequence[tuple[Note, float]]) -> list[TruthVerdict]: ...


def link_verdicts(links: Iterable[LinkProposal], agent: BuiltBy) -> list[TruthVerdict]:
    """The ``supersedes`` / ``contradicts`` links an agent proposed, as its verdicts (same rationale)."""
    return [TruthVerdict(target_id=p.target_id, verdict="supersedes" if p.relation == Relation.SUPERSEDES
                         else "contradicts", confidence=p.weight, rationale=p.rationale, agent=agent)
            for p in links if p.relation in (Relation.SUPERSEDES, Relation.CONTRADICTS)]
