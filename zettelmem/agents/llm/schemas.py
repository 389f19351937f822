"""Schemas are code: the context models prompts are rendered from, and the response
models the model must answer with (one pair per task: joint, build, link, evolve).

Response models are lenient where leniency loses nothing (case of enum values, a
comma-separated string where a list is expected, weights outside [0, 1]) so that
the single repair attempt is kept for replies that are really broken. Their JSON
schemas are kept lean — every token of a tool definition is paid on every call —
so nested models carry no descriptions or defaults (the prompt files explain the
fields) and enums are spelled out inline.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, field_validator

from zettelmem.models import MemoryType, Relation

__all__ = [
    "BuildContext",
    "BuildItem",
    "BuildReply",
    "EvolveContext",
    "EvolveOut",
    "EvolveReply",
    "JointContext",
    "JointItem",
    "JointReply",
    "Limits",
    "LinkContext",
    "LinkOut",
    "LinkReply",
    "LinkedView",
    "MemoryView",
    "NoteAttrs",
    "NoteView",
]


# -- context models (what a prompt is rendered from) ------------------------------


class Limits(BaseModel):
    """Per-note limits the prompt states (from AgentsConfig)."""

    model_config = ConfigDict(frozen=True)

    max_links: int = 5
    max_keywords: int = 8
    max_tags: int = 6
    evolve: bool = True


class MemoryView(BaseModel):
    """A new memory as shown to the model, under a short id (``m1`` …)."""

    model_config = ConfigDict(frozen=True)

    id: str
    content: str
    event_time: str | None = None
    speaker: str | None = None
    type_hint: MemoryType | None = None
    candidates: list[str] | None = None  # ids of the notes offered to this memory


class NoteView(BaseModel):
    """An existing note as shown to the model, under a short id (``n1`` …)."""

    model_config = ConfigDict(frozen=True)

    id: str
    content: str
    context: str = ""
    keywords: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    memory_type: MemoryType = MemoryType.EPISODIC
    event_time: str | None = None
    similarity: float | None = None


class LinkedView(NoteView):
    """A note the new note was linked to, with the link."""

    relation: Relation = Relation.RELATES_TO
    link_rationale: str = ""


class JointContext(BaseModel):
    """Several new memories and the union of their candidate notes."""

    memories: list[MemoryView]
    notes: list[NoteView]
    limits: Limits = Field(default_factory=Limits)


class BuildContext(BaseModel):
    """New memories to build notes for."""

    memories: list[MemoryView]
    limits: Limits = Field(default_factory=Limits)


class LinkContext(BaseModel):
    """One new note and its candidate neighbours."""

    note: NoteView
    candidates: list[NoteView]
    limits: Limits = Field(default_factory=Limits)


class EvolveContext(BaseModel):
    """A new note and the notes it was linked to."""

    trigger: NoteView
    linked: list[LinkedView]
    limits: Limits = Field(default_factory=Limits)


# -- response models (what the model must answer) ---------------------------------


def _lean(schema: dict[str, Any]) -> None:
    """Drop descriptions and defaults from a nested model's schema."""
    schema.pop("description", None)
    for prop in schema.get("properties", {}).values():
        prop.pop("default", None)
        prop.pop("title", None)


_LEAN = ConfigDict(json_schema_extra=_lean)
_STRINGS = {"type": "array", "items": {"type": "string"}}
MemoryTypeName = Annotated[MemoryType, WithJsonSchema({"type": "string", "enum": [t.value for t in MemoryType]})]
RelationName = Annotated[Relation, WithJsonSchema({"type": "string", "enum": [r.value for r in Relation]})]
OptionalText = Annotated[str | None, WithJsonSchema({"type": "string"})]
OptionalStrings = Annotated[list[str] | None, WithJsonSchema(_STRINGS)]
OptionalMemoryType = Annotated[
    MemoryType | None, WithJsonSchema({"type": "string", "enum": [t.value for t in MemoryType]})
]


def _as_list(value: Any) -> Any:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def _lower(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


class NoteAttrs(BaseModel):
    """Attributes of a new note."""

    model_config = _LEAN

    keywords: list[str]
    tags: list[str]
    context: str
    memory_type: MemoryTypeName
    entities: list[str] = Field(default_factory=list)
    event_time: OptionalText = None  # ISO 8601, only when the memory says when

    _lists = field_validator("keywords", "tags", "entities", mode="before")(_as_list)
    _type = field_validator("memory_type", mode="before")(_lower)


class LinkOut(BaseModel):
    """A link from the new note to an offered note."""

    model_config = _LEAN

    target: str  # a short id, e.g. n1
    relation: RelationName
    weight: float
    rationale: str = ""

    _relation = field_validator("relation", mode="before")(_lower)

    @field_validator("weight", mode="after")
    @classmethod
    def _clamp(cls, value: float) -> float:
        return min(1.0, max(0.0, value))


class EvolveOut(BaseModel):
    """New attribute values for an existing note (an omitted field is kept)."""

    model_config = _LEAN

    target: str
    context: OptionalText = None
    keywords: OptionalStrings = None
    tags: OptionalStrings = None
    memory_type: OptionalMemoryType = None
    rationale: str = ""

    _lists = field_validator("keywords", "tags", mode="before")(_as_list)
    _type = field_validator("memory_type", mode="before")(_lower)


class _MemoryRef(BaseModel):
    model_config = _LEAN

    memory: str  # a short id, e.g. m1


class JointItem(NoteAttrs, _MemoryRef):
    """Everything decided about one new memory."""

    model_config = _LEAN

    links: list[LinkOut] = Field(default_factory=list)
    evolve: list[EvolveOut] = Field(default_factory=list)


class JointReply(BaseModel):
    """Notes, links and updates: one entry per new memory."""

    notes: list[JointItem]


class BuildItem(NoteAttrs, _MemoryRef):
    """Attributes of one new memory."""

    model_config = _LEAN


class BuildReply(BaseModel):
    """Note attributes: one entry per new memory."""

    notes: list[BuildItem]


class LinkReply(BaseModel):
    """Links from the new note (may be empty)."""

    links: list[LinkOut]


class EvolveReply(BaseModel):
    """Updates of linked notes (may be empty)."""

    updates: list[EvolveOut]
