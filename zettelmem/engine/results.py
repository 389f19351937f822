"""Values the Memory API returns: add results, search hits with reasons, reports."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from zettelmem.models import Change, Link, Note, Relation

__all__ = ["AddResult", "CheckReport", "Reason", "SearchHit", "Usage"]


class Usage(BaseModel):
    """LLM calls and tokens an operation spent (all zero with offline agents)."""

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    failures: int = 0
    fallbacks: int = 0

    @classmethod
    def delta(cls, before: dict[str, int], after: dict[str, int]) -> Usage:
        return cls(**{f: int(after.get(f, 0)) - int(before.get(f, 0)) for f in cls.model_fields})


class AddResult(BaseModel):
    """What one added memory produced."""

    note: Note
    links: list[Link] = Field(default_factory=list)
    changes: list[Change] = Field(default_factory=list)  # applied evolution steps on neighbours
    rejected: list[Change] = Field(default_factory=list)  # proposals the guards refused, with reasons
    dropped: list[str] = Field(default_factory=list)  # ids an agent named that were not offered
    usage: Usage = Field(default_factory=Usage)


class Reason(BaseModel):
    """One reason a search hit came back."""

    kind: Literal["dense", "lexical", "thread", "entity", "graph"]
    rank: int | None = None  # 1-based rank in that retriever's list
    score: float | None = None  # cosine (dense), BM25 (lexical), propagated score (graph)
    via: str | None = None  # graph: the hit this one was reached from; entity: the names matched
    relation: Relation | None = None
    weight: float | None = None

    def __str__(self) -> str:
        if self.kind == "graph":
            rel = self.relation.value if self.relation else "link"
            return f"linked from {str(self.via)[:8]} ({rel}, weight {self.weight:.2f})"
        if self.kind == "entity":
            return f"names {self.via}"
        if self.kind == "thread":
            return f"lexical with its thread #{self.rank} ({self.score:.3f})"
        return f"{self.kind} #{self.rank} ({self.score:.3f})"


class SearchHit(BaseModel):
    """A ranked note and why it was returned."""

    note: Note
    score: float
    why: list[Reason] = Field(default_factory=list)
    members: list[str] = Field(default_factory=list)  # for a topic note: the ids of the notes it gathers

    def explain(self) -> str:
        return "; ".join(str(r) for r in self.why)

    def _repr_html_(self) -> str:  # Jupyter display; zettelmem.display renders it
        from zettelmem.display import hit_html
        return hit_html(self)


class CheckReport(BaseModel):
    """Agreement of the graph store and the vector index."""

    notes: int = 0
    vectors: int = 0
    missing_vectors: list[str] = Field(default_factory=list)  # note without vector
    orphan_vectors: list[str] = Field(default_factory=list)  # vector without note
    stale_vectors: list[str] = Field(default_factory=list)  # vector of an older version
    repaired: int = 0

    @property
    def ok(self) -> bool:
        return not (self.missing_vectors or self.orphan_vectors or self.stale_vectors)
