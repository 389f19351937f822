"""Values the Memory API returns: add results, search hits with reasons, reports."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, Field

from zettelmem._cards import explain, hit_html, reason_text
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

    kind: Literal["dense", "lexical", "thread", "entity", "graph", "superseded", "cold", "step"]
    rank: int | None = None  # 1-based rank in that retriever's list; step: the step number
    score: float | None = None  # cosine (dense, step), BM25 (lexical), propagated score (graph)
    via: str | None = None  # graph, step: the hit this one was reached from; entity: the names matched
    relation: Relation | None = None
    weight: float | None = None
    # step (multi-step search): how ``via`` leads here ("topic": via is a topic note gathering this
    # note; "member": this topic note gathers via; "link": another link; "feedback": the query
    # re-run with terms of the top hits, named in ``via``) and the notes walked before, first hit first
    hop: Literal["topic", "member", "link", "feedback"] | None = None
    path: list[str] | None = None

    def __str__(self) -> str:
        return reason_text(self)


class SearchHit(BaseModel):
    """A ranked note and why it was returned."""

    note: Note
    score: float
    why: list[Reason] = Field(default_factory=list)
    members: list[str] = Field(default_factory=list)  # for a topic note: the ids of the notes it gathers

    def explain(self, labels: Mapping[str, str] | None = None) -> str:
        """Why this hit came back, in words (``labels``: note id -> name, for graph reasons)."""
        return explain(self.why, labels)

    def _repr_html_(self) -> str:  # Jupyter display: an HTML card
        return hit_html(self)


class CheckReport(BaseModel):
    """Agreement of the notes with the vector index and the store's full-text rows, and of topic notes
    with their ``summarizes`` links."""

    notes: int = 0
    vectors: int = 0
    missing_vectors: list[str] = Field(default_factory=list)  # note without vector
    orphan_vectors: list[str] = Field(default_factory=list)  # vector without note
    stale_vectors: list[str] = Field(default_factory=list)  # vector of an older version
    missing_text: list[str] = Field(default_factory=list)  # note without full-text row
    stale_text: list[str] = Field(default_factory=list)  # full-text row of other text
    orphan_text: list[str] = Field(default_factory=list)  # full-text row without note
    broken_topics: list[str] = Field(default_factory=list)  # topic note whose members and links disagree
    repaired: int = 0
    scopes: int = 0  # scopes checked
    interrupted_migration: str | None = None  # a ``migrate`` into this store started and did not finish

    @property
    def vectors_ok(self) -> bool:
        return not (self.missing_vectors or self.orphan_vectors or self.stale_vectors)

    @property
    def ok(self) -> bool:
        return self.vectors_ok and self.text_ok and not self.broken_topics and self.interrupted_migration is None

    @property
    def text_ok(self) -> bool:
        return not (self.missing_text or self.stale_text or self.orphan_text)
