"""Input and output shapes of the MCP tools (their JSON schemas are generated from these).

The reference knowledge-graph shapes (:class:`Entity`, :class:`KGRelation`,
:class:`KnowledgeGraph`, …) match ``@modelcontextprotocol/server-memory`` field for
field, including the ``from`` key of a relation. zettelmem's own verbs return the
notes, links and changes of the Memory API as plain JSON values.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from zettelmem.engine.results import AddResult, SearchHit
from zettelmem.models import Change, Link, Note

__all__ = [
    "Ack",
    "AddObservationsResult",
    "ChangeOut",
    "ChangesResult",
    "CreateEntitiesResult",
    "CreateRelationsResult",
    "Entity",
    "ForgetResult",
    "HitOut",
    "KGRelation",
    "KnowledgeGraph",
    "LinkOut",
    "NoteOut",
    "NoteWithLinks",
    "ObservationAdded",
    "ObservationDeletion",
    "ObservationInput",
    "RecallResult",
    "RememberResult",
    "UnlinkResult",
]


# -- the reference server's shapes ------------------------------------------------------------
class Entity(BaseModel):
    """An entity of the knowledge graph: a name, a type and what is known about it."""

    name: str = Field(description="The name of the entity")
    entityType: str = Field(description="The type of the entity")
    observations: list[str] = Field(description="An array of observation contents associated with the entity")


class KGRelation(BaseModel):
    """A directed, typed relation between two entities (``from`` -> ``to``)."""

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    from_: str = Field(alias="from", description="The name of the entity where the relation starts")
    to: str = Field(description="The name of the entity where the relation ends")
    relationType: str = Field(description="The type of the relation")


class KnowledgeGraph(BaseModel):
    entities: list[Entity]
    relations: list[KGRelation]


class CreateEntitiesResult(BaseModel):
    entities: list[Entity]


class CreateRelationsResult(BaseModel):
    relations: list[KGRelation]


class ObservationInput(BaseModel):
    entityName: str = Field(description="The name of the entity to add the observations to")
    contents: list[str] = Field(description="An array of observation contents to add")


class ObservationAdded(BaseModel):
    entityName: str
    addedObservations: list[str]


class AddObservationsResult(BaseModel):
    results: list[ObservationAdded]


class ObservationDeletion(BaseModel):
    entityName: str = Field(description="The name of the entity containing the observations")
    observations: list[str] = Field(description="An array of observations to delete")


class Ack(BaseModel):
    success: bool
    message: str


# -- zettelmem's verbs ------------------------------------------------------------------------
class NoteOut(BaseModel):
    """A note as the tools return it."""

    id: str
    content: str
    context: str
    keywords: list[str]
    tags: list[str]
    memory_type: str
    entities: list[str]
    event_time: str | None
    created_at: str
    version: int
    built_by: str

    @classmethod
    def of(cls, note: Note) -> NoteOut:
        return cls(id=note.id, content=note.content, context=note.context, keywords=list(note.keywords),
                   tags=list(note.tags), memory_type=note.memory_type.value, entities=list(note.entities),
                   event_time=note.event_time.isoformat() if note.event_time else None,
                   created_at=note.created_at.isoformat(), version=note.version, built_by=str(note.built_by))


class LinkOut(BaseModel):
    source: str
    target: str
    relation: str
    weight: float
    rationale: str

    @classmethod
    def of(cls, link: Link) -> LinkOut:
        return cls(source=link.source, target=link.target, relation=link.relation.value, weight=link.weight,
                   rationale=link.rationale)


class ChangeOut(BaseModel):
    """One versioned rewrite of a note (an evolution, a user update or a revert)."""

    id: str
    note_id: str
    kind: str
    version_before: int
    version_after: int
    before: dict[str, Any]
    after: dict[str, Any]
    rationale: str
    trigger: str | None
    created_at: str

    @classmethod
    def of(cls, change: Change) -> ChangeOut:
        return cls(id=change.id, note_id=change.note_id, kind=change.kind, version_before=change.version_before,
                   version_after=change.version_after, before=dict(change.before), after=dict(change.after),
                   rationale=change.rationale, trigger=change.trigger, created_at=change.created_at.isoformat())


class RememberResult(BaseModel):
    """The new note, the links it made and the evolutions it caused in its neighbours."""

    note: NoteOut
    links: list[LinkOut]
    evolutions: list[ChangeOut]
    rejected_evolutions: int
    llm_calls: int

    @classmethod
    def of(cls, result: AddResult) -> RememberResult:
        return cls(note=NoteOut.of(result.note), links=[LinkOut.of(lk) for lk in result.links],
                   evolutions=[ChangeOut.of(c) for c in result.changes], rejected_evolutions=len(result.rejected),
                   llm_calls=result.usage.calls)


class HitOut(BaseModel):
    """A recalled note, its fused score and why it was returned."""

    note: NoteOut
    score: float
    why: str
    reasons: list[dict[str, Any]]

    @classmethod
    def of(cls, hit: SearchHit) -> HitOut:
        return cls(note=NoteOut.of(hit.note), score=hit.score, why=hit.explain(),
                   reasons=[r.model_dump(mode="json", exclude_none=True) for r in hit.why])


class RecallResult(BaseModel):
    hits: list[HitOut]


class NoteWithLinks(BaseModel):
    note: NoteOut
    links: list[LinkOut]


class ChangesResult(BaseModel):
    changes: list[ChangeOut]


class ForgetResult(BaseModel):
    """What was removed: every forgotten note, by id and content."""

    removed: list[NoteOut]
    count: int
    more: bool = Field(description="True when more notes matched the filter than were removed in this call")


class UnlinkResult(BaseModel):
    removed: int
