"""The data model: pure pydantic v2 values with no I/O.

A :class:`Note` is one memory with the attributes agents built for it; a
:class:`Link` is a typed, weighted edge with a rationale; a :class:`Change` is one
versioned rewrite of a note's attributes. Backends persist these; nothing here
knows about a database.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from zettelmem._cards import note_html

__all__ = [
    "EVOLVABLE_FIELDS",
    "TRUTH_FIELDS",
    "BuiltBy",
    "Change",
    "Link",
    "MemoryType",
    "Note",
    "Provenance",
    "Relation",
    "Scope",
    "coerce_fields",
    "new_id",
    "utcnow",
]

#: Note attributes an evolution pass may rewrite.
EVOLVABLE_FIELDS: tuple[str, ...] = ("keywords", "tags", "context", "memory_type")
#: Note fields only truth maintenance and ``forget`` rewrite (through Changes of their own kinds).
TRUTH_FIELDS: tuple[str, ...] = ("valid_to", "mentions", "last_seen", "sources", "forgotten", "cold")


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def new_id() -> str:
    """A fresh random id (uuid4 hex)."""
    return uuid.uuid4().hex


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


class MemoryType(StrEnum):
    """What kind of memory a note holds (MIRIX-style taxonomy)."""

    EPISODIC = "episodic"  # something that happened, at a time
    SEMANTIC = "semantic"  # a fact or belief about the world or a person
    PROCEDURAL = "procedural"  # how to do something
    CORE = "core"  # identity, lasting preferences
    RESOURCE = "resource"  # a document, link, file, media item


class Relation(StrEnum):
    """Link types."""

    RELATES_TO = "relates_to"
    ELABORATES = "elaborates"
    SUPPORTS = "supports"
    CONTRADICTS = "contradicts"
    SUPERSEDES = "supersedes"
    SAME_ENTITY = "same_entity"
    FOLLOWS = "follows"
    ANSWERS = "answers"
    SUMMARIZES = "summarizes"  # a higher-level (topic) note -> each note it gathers


class Scope(BaseModel):
    """Who a memory belongs to. Scopes match exactly, field by field."""

    model_config = ConfigDict(frozen=True)

    user_id: str = "default"
    agent_id: str = "default"
    namespace: str = "default"

    @field_validator("user_id", "agent_id", "namespace")
    @classmethod
    def _non_empty(cls, value: str) -> str:
        if not value or "\x00" in value or "\x1f" in value or len(value) > 256:  # \x1f joins the key
            raise ValueError("scope parts must be 1-256 characters without NUL or unit separator")
        return value

    @property
    def key(self) -> str:
        """A single string that is equal only for equal scopes."""
        return "\x1f".join((self.user_id, self.agent_id, self.namespace))

    @classmethod
    def from_key(cls, key: str) -> Scope:
        user_id, agent_id, namespace = key.split("\x1f")
        return cls(user_id=user_id, agent_id=agent_id, namespace=namespace)

    def __str__(self) -> str:
        return f"{self.user_id}/{self.agent_id}/{self.namespace}"


class BuiltBy(BaseModel):
    """Which agent built or last rewrote something, so output is labelled honestly."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["offline", "llm", "user"] = "offline"
    agent: str = "offline"
    version: str = "1"
    model: str | None = None
    fallback_reason: str | None = None  # set when an LLM failed and offline took over

    def __str__(self) -> str:
        tail = f" ({self.model})" if self.model else ""
        return f"{self.kind}:{self.agent}@{self.version}{tail}"


class Provenance(BaseModel):
    """Where a memory came from."""

    model_config = ConfigDict(frozen=True)

    source: str | None = None  # e.g. a message id or file name
    session: str | None = None
    speaker: str | None = None
    turn: int | None = None  # position inside the session, when known
    extra: dict[str, str] = Field(default_factory=dict)


class Note(BaseModel):
    """One memory and the attributes built for it.

    ``content`` is the raw memory and never changes; the evolvable attributes
    (``keywords``, ``tags``, ``context``, ``memory_type``) are rewritten only
    through versioned :class:`Change` records.
    """

    model_config = ConfigDict(frozen=True)

    id: str = Field(default_factory=new_id)
    content: str
    keywords: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    context: str = ""
    memory_type: MemoryType = MemoryType.EPISODIC
    entities: list[str] = Field(default_factory=list)
    scope: Scope = Field(default_factory=Scope)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    event_time: datetime | None = None
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    version: int = 1
    built_by: BuiltBy = Field(default_factory=BuiltBy)
    provenance: Provenance = Field(default_factory=Provenance)
    metadata: dict[str, Any] = Field(default_factory=dict)
    access_count: int = 0
    last_accessed: datetime | None = None
    mentions: int = 1  # times this memory was stated: exact repeats and merged near-duplicates add one
    last_seen: datetime | None = None  # when it was last stated again
    sources: list[Provenance] = Field(default_factory=list)  # provenance of each later mention
    forgotten: bool = False  # soft-forgotten: closed and hidden from search, kept for history
    cold: datetime | None = None  # when a consolidate pass demoted it as cold (engine/heat.py); None: warm
    #: Evolvable fields a user edit set: automatic evolution leaves them alone until unpinned.
    pinned: list[str] = Field(default_factory=list)

    @field_validator(
        "created_at", "updated_at", "event_time", "valid_from", "valid_to", "last_accessed", "last_seen", "cold"
    )
    @classmethod
    def _aware_times(cls, value: datetime | None) -> datetime | None:
        return _aware(value)

    def embedding_text(self) -> str:
        """The text the dense index embeds: the content, plus the context an LLM wrote.

        An offline-built note's context is a template of words taken from its
        content, so it would add tokens to embed (twice the cost) and nothing to
        the vector; its content alone is embedded.
        """
        if self.context and self.built_by.kind != "offline" and self.context not in self.content:
            return f"{self.content}\n{self.context}"
        return self.content

    def lexical_text(self) -> str:
        """The text the lexical index scores: content and every attribute."""
        return " ".join([self.content, self.context, *self.keywords, *self.tags, *self.entities])

    def evolvable(self) -> dict[str, Any]:
        """The attributes an evolution pass may rewrite, as plain values.

        A higher-level note made by consolidation (``metadata["zm_level"] >= 1``) is a
        digest of its members: its content and member list are rewritten too, as
        versioned changes, when its members change.
        """
        names = EVOLVABLE_FIELDS + (("content", "metadata") if int(self.metadata.get("zm_level", 0)) >= 1 else ())
        dumped = self.model_dump(mode="json")
        return {f: dumped[f] for f in names}

    def _repr_html_(self) -> str:  # Jupyter display: an HTML card
        return note_html(self)


def coerce_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """A Change's plain (JSON) field values as Note attribute values."""
    out: dict[str, Any] = {}
    for name, value in fields.items():
        if name == "memory_type":
            value = MemoryType(str(value))
        elif name in ("valid_to", "last_seen", "cold") and isinstance(value, str):
            value = _aware(datetime.fromisoformat(value))
        elif name == "sources":
            value = [Provenance.model_validate(v) for v in value or []]
        out[name] = value
    return out


class Link(BaseModel):
    """A typed, weighted edge between two notes of the same scope."""

    model_config = ConfigDict(frozen=True)

    source: str
    target: str
    relation: Relation = Relation.RELATES_TO
    weight: float = Field(default=0.5, ge=0.0, le=1.0)
    rationale: str = ""
    created_by: BuiltBy = Field(default_factory=BuiltBy)
    created_at: datetime = Field(default_factory=utcnow)

    @field_validator("created_at")
    @classmethod
    def _aware_times(cls, value: datetime) -> datetime | None:
        return _aware(value)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.source, self.target, self.relation.value)

    def other(self, note_id: str) -> str:
        """The end of this link that is not ``note_id``."""
        return self.target if note_id == self.source else self.source


class Change(BaseModel):
    """One versioned rewrite of one note's evolvable attributes."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(default_factory=new_id)
    note_id: str
    scope: Scope = Field(default_factory=Scope)
    version_before: int
    version_after: int
    before: dict[str, Any]  # field -> old value (only changed fields)
    after: dict[str, Any]  # field -> new value
    rationale: str = ""
    trigger: str | None = None  # the note whose arrival caused it
    agent: BuiltBy = Field(default_factory=BuiltBy)
    kind: Literal["evolve", "update", "revert", "rejected", "consolidate", "supersede", "mention", "merge",
                  "forget", "demote"] = "evolve"
    reverts: str | None = None  # change id, for kind == "revert"
    created_at: datetime = Field(default_factory=utcnow)

    @field_validator("created_at")
    @classmethod
    def _aware_times(cls, value: datetime) -> datetime | None:
        return _aware(value)

    @property
    def fields(self) -> list[str]:
        return sorted(self.after)
