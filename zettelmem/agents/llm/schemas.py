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

from functools import cache
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, create_model, field_validator, model_validator

from zettelmem.models import MemoryType, Relation

__all__ = [
    "BuildContext",
    "BuildEntry",
    "DuplicateOut",
    "EvolveContext",
    "EvolveOut",
    "EvolveReply",
    "JointContext",
    "JointEntry",
    "KeyedReply",
    "Limits",
    "LinkContext",
    "LinkOut",
    "LinkReply",
    "LinkedView",
    "MemoryView",
    "NoteAttrs",
    "NoteView",
    "build_reply",
    "joint_reply",
    "keyed_reply",
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


class DuplicateOut(BaseModel):
    """An offered note the new memory repeats (same fact, other words): recorded as a mention of it."""

    model_config = _LEAN

    target: str  # a short id, e.g. n1
    rationale: str = ""


class JointEntry(NoteAttrs):
    """Everything decided about one new memory."""

    model_config = _LEAN

    links: list[LinkOut] = Field(default_factory=list)
    evolve: list[EvolveOut] = Field(default_factory=list)
    duplicates: list[DuplicateOut] = Field(default_factory=list)


class BuildEntry(NoteAttrs):
    """Attributes of one new memory."""

    model_config = _LEAN


_DROPPED = "zettelmem_dropped"  # where the validator keeps keys it could not use


def _memory_key(written: object) -> str:
    return str(written).strip().strip("[]\"'").lower()


def _keyed_schema(schema: dict[str, Any]) -> None:
    """Every memory id is a required property holding its entry; nothing else is allowed."""
    props = schema.get("properties", {})
    for name, prop in props.items():
        refs = [p for p in prop.get("anyOf", []) if p.get("type") != "null"]
        props[name] = refs[0] if refs else prop
    schema["required"] = list(props)
    schema["additionalProperties"] = False


class KeyedReply(BaseModel):
    """A reply with one entry per memory id given (``m1`` … ``mN``), built per pack size.

    The JSON schema sent to the model makes every id a required property and allows
    no other, so a server that constrains decoding (a grammar) yields exactly one
    entry per memory. Validation is more forgiving, so a partial reply is still
    used: ids are matched case- and quote-insensitively, the older list form
    ``{"notes": [{"memory": "m1", …}]}`` is accepted, unknown and duplicate ids are
    kept aside for :meth:`dropped`, and only a reply with no usable entry at all is
    invalid (it gets the repair turn). :func:`keyed_reply` builds the models.
    """

    model_config = ConfigDict(extra="allow", json_schema_extra=_keyed_schema)

    @model_validator(mode="before")
    @classmethod
    def _by_id(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        items: list[tuple[object, Any]]
        notes = data.get("notes")
        if isinstance(notes, list) and not any(_memory_key(k) in cls.model_fields for k in data):
            items = [
                (e.get("memory"), {k: v for k, v in e.items() if k != "memory"}) if isinstance(e, dict) else ("?", e)
                for e in notes
            ]
        else:
            items = [(k, v) for k, v in data.items() if k != _DROPPED]
        out: dict[str, Any] = {}
        dropped: list[tuple[str, str]] = list(data.get(_DROPPED, []) or [])
        for written, value in items:
            key = _memory_key(written)
            if key not in cls.model_fields:
                dropped.append((str(written), "not offered"))
            elif key in out:
                dropped.append((str(written), "duplicate entry"))
            else:
                out[key] = value
        if dropped:
            out[_DROPPED] = dropped
        return out

    @model_validator(mode="after")
    def _some(self) -> KeyedReply:
        if not self.entries():
            ids = ", ".join(type(self).model_fields)
            raise ValueError(f"no entry for any memory id; give one entry for each of {ids}")
        return self

    def entries(self) -> dict[str, Any]:
        """The entries present, by memory id, in id order."""
        return {k: v for k in type(self).model_fields if (v := getattr(self, k)) is not None}

    def missing(self) -> list[str]:
        """The memory ids the reply left out."""
        return [k for k in type(self).model_fields if getattr(self, k) is None]

    def dropped(self) -> list[tuple[str, str]]:
        """``(id as written, reason)`` for entries of ids not given, or given twice."""
        return [(str(d[0]), str(d[1])) for d in (self.model_extra or {}).get(_DROPPED, [])]


@cache
def keyed_reply(entry: type[BaseModel], size: int, name: str) -> type[KeyedReply]:
    """The reply model of a pack of ``size`` memories: properties ``m1`` … ``m<size>``."""
    if size < 1:
        raise ValueError("a pack has at least one memory")
    fields: dict[str, Any] = {f"m{i}": (entry | None, None) for i in range(1, size + 1)}
    model = create_model(name, __base__=KeyedReply, **fields)
    model.__doc__ = f"One entry per new memory, keyed by its id (m1 … m{size}); every id, no other."
    return model


def joint_reply(size: int) -> type[KeyedReply]:
    """Notes, links and updates of ``size`` memories (tool / schema name ``JointReply``)."""
    return keyed_reply(JointEntry, size, "JointReply")


def build_reply(size: int) -> type[KeyedReply]:
    """Note attributes of ``size`` memories (tool / schema name ``BuildReply``)."""
    return keyed_reply(BuildEntry, size, "BuildReply")


class LinkReply(BaseModel):
    """Links from the new note (may be empty), and the candidates it merely repeats."""

    links: list[LinkOut]
    duplicates: list[DuplicateOut] = Field(default_factory=list)


class EvolveReply(BaseModel):
    """Updates of linked notes (may be empty)."""

    updates: list[EvolveOut]
