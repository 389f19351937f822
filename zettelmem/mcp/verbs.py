"""zettelmem's own verbs as MCP tools: remember, recall, get_note, update_note, forget, link, unlink,
history, revert.

Each takes an optional ``namespace`` that narrows the request's scope
(:func:`zettelmem.mcp.auth.narrow`); none can name another user, agent or scope.
``forget`` deletes (the notes leave the graph, the vectors and the history) and
returns what it removed.
"""

from __future__ import annotations

from typing import Annotated, Literal

from mcp.server.mcpserver import MCPServer
from pydantic import Field

from zettelmem.errors import InvalidInput
from zettelmem.filters import Filter
from zettelmem.mcp._backend import READ, Backend, guarded, parse_time, write
from zettelmem.mcp.models import (
    ChangeOut,
    ChangesResult,
    ForgetResult,
    HitOut,
    LinkOut,
    NoteOut,
    NoteWithLinks,
    RecallResult,
    RememberResult,
    UnlinkResult,
)
from zettelmem.models import MemoryType, Relation

__all__ = ["VERB_TOOLS", "register_verbs"]

VERB_TOOLS = ("remember", "recall", "get_note", "update_note", "forget", "link", "unlink", "history", "revert")

Namespace = Annotated[str | None, Field(
    description="Optional sub-namespace inside this server's scope (e.g. 'work' or 'work/2024')")]
MemoryTypeName = Literal["episodic", "semantic", "procedural", "core", "resource"]
RelationName = Literal["relates_to", "elaborates", "supports", "contradicts", "supersedes", "same_entity",
                       "follows", "answers"]
NoteId = Annotated[str, Field(description="A note id, as remember/recall return it")]
_FORGET_CAP = 100


def register_verbs(server: MCPServer, backend: Backend) -> None:
    """Add zettelmem's verbs to ``server``."""
    add = server.add_tool
    mem = backend.mem

    @guarded
    async def remember(
        content: Annotated[str, Field(description="The memory: one self-contained fact, preference or event")],
        time: Annotated[str | None, Field(description="When it happened (ISO 8601), if known")] = None,
        memory_type: MemoryTypeName | None = None,
        tags: list[str] | None = None,
        namespace: Namespace = None,
    ) -> RememberResult:
        scope = backend.scope(namespace)
        result = await mem.add(content, scope, event_time=parse_time(time, "time"),
                               memory_type=MemoryType(memory_type) if memory_type else None, tags=tags or None)
        return RememberResult.of(result)

    add(remember, title="Remember",
        description="Store a memory. zettelmem builds a note (keywords, tags, context, type), links it to related "
                    "memories and lets those evolve; returns the note, its links and the evolutions it caused.",
        annotations=write(destructive=False, idempotent=False), structured_output=True)

    @guarded
    async def recall(
        query: Annotated[str, Field(description="What to look for, in plain words")],
        k: Annotated[int, Field(ge=1, le=50, description="How many memories to return")] = 5,
        memory_types: list[MemoryTypeName] | None = None,
        tags: Annotated[list[str] | None, Field(description="Only memories with any of these tags")] = None,
        since: Annotated[str | None, Field(description="Only memories from this time on (ISO 8601)")] = None,
        until: Annotated[str | None, Field(description="Only memories up to this time (ISO 8601)")] = None,
        namespace: Namespace = None,
    ) -> RecallResult:
        flt = Filter(memory_types=tuple(MemoryType(t) for t in memory_types) if memory_types else None,
                     tags_any=tuple(tags) if tags else None, since=parse_time(since, "since"),
                     until=parse_time(until, "until"))
        hits = await mem.search(query, backend.scope(namespace), k=k, where=None if flt.is_empty() else flt)
        return RecallResult(hits=[HitOut.of(h) for h in hits])

    add(recall, title="Recall",
        description="Search memories (meaning, words and links); each hit says why it was returned.",
        annotations=READ, structured_output=True)

    @guarded
    async def get_note(
        note_id: NoteId,
        as_of: Annotated[str | None, Field(description="Read the note as it was then (ISO 8601)")] = None,
        namespace: Namespace = None,
    ) -> NoteWithLinks:
        scope = backend.scope(namespace)
        note = await mem.get(note_id, scope, as_of=parse_time(as_of, "as_of"))
        return NoteWithLinks(note=NoteOut.of(note), links=[LinkOut.of(lk) for lk in await mem.links(note_id, scope)])

    add(get_note, title="Get Note", description="A note by id, with its links (optionally as it was at a past time).",
        annotations=READ, structured_output=True)

    @guarded
    async def update_note(
        note_id: NoteId,
        tags: list[str] | None = None,
        keywords: list[str] | None = None,
        context: Annotated[str | None, Field(description="One sentence on what the memory means")] = None,
        memory_type: MemoryTypeName | None = None,
        expected_version: Annotated[int | None, Field(
            description="Refuse if the note is no longer at this version")] = None,
        namespace: Namespace = None,
    ) -> ChangeOut:
        fields = {"tags": tags, "keywords": keywords, "context": context, "memory_type": memory_type}
        given = {k: v for k, v in fields.items() if v is not None}
        if not given:
            raise InvalidInput("nothing to update: give tags, keywords, context or memory_type")
        change = await mem.update(note_id, backend.scope(namespace), rationale="updated over MCP",
                                  expected_version=expected_version, **given)
        return ChangeOut.of(change)

    add(update_note, title="Update Note",
        description="Rewrite a note's tags, keywords, context or type (a new version; the content never changes).",
        annotations=write(destructive=False, idempotent=True), structured_output=True)

    @guarded
    async def forget(
        note_id: Annotated[str | None, Field(description="The note to forget")] = None,
        tags: Annotated[list[str] | None, Field(description="Or: forget the notes with any of these tags")] = None,
        memory_types: list[MemoryTypeName] | None = None,
        namespace: Namespace = None,
    ) -> ForgetResult:
        scope = backend.scope(namespace)
        if note_id is not None:
            if tags or memory_types:
                raise InvalidInput("give note_id or a filter (tags, memory_types), not both")
            notes = [await mem.get(note_id, scope)]
            more = False
        else:
            flt = Filter(memory_types=tuple(MemoryType(t) for t in memory_types) if memory_types else None,
                         tags_any=tuple(tags) if tags else None)
            if flt.is_empty():
                raise InvalidInput("forget needs note_id or a filter (tags, memory_types); it never forgets everything")
            found = await mem.list(scope, where=flt, limit=_FORGET_CAP + 1)
            notes, more = found[:_FORGET_CAP], len(found) > _FORGET_CAP
        if notes:
            await mem.delete([n.id for n in notes], scope)
        return ForgetResult(removed=[NoteOut.of(n) for n in notes], count=len(notes), more=more)

    add(forget, title="Forget",
        description="Delete one note, or the notes matching a filter (at most 100 per call), with their links "
                    "and history; returns what was removed.",
        annotations=write(destructive=True, idempotent=True), structured_output=True)

    @guarded
    async def link(
        source: NoteId, target: NoteId, relation: RelationName = "relates_to",
        weight: Annotated[float, Field(ge=0.0, le=1.0)] = 0.5,
        rationale: str = "linked over MCP", namespace: Namespace = None,
    ) -> LinkOut:
        scope = backend.scope(namespace)
        await mem.get(source, scope)
        await mem.get(target, scope)
        lk = await mem.link(source, target, scope, relation=Relation(relation), weight=weight, rationale=rationale)
        return LinkOut.of(lk)

    add(link, title="Link", description="Link two notes with a typed, weighted link.",
        annotations=write(destructive=False, idempotent=True), structured_output=True)

    @guarded
    async def unlink(
        source: NoteId, target: NoteId,
        relation: Annotated[RelationName | None, Field(description="Only this relation (default: all)")] = None,
        namespace: Namespace = None,
    ) -> UnlinkResult:
        return UnlinkResult(removed=await mem.unlink(source, target, backend.scope(namespace), relation=relation))

    add(unlink, title="Unlink", description="Remove the link(s) from source to target.",
        annotations=write(destructive=True, idempotent=True), structured_output=True)

    @guarded
    async def history(note_id: NoteId, namespace: Namespace = None) -> ChangesResult:
        changes = await mem.history(note_id, backend.scope(namespace))
        return ChangesResult(changes=[ChangeOut.of(c) for c in changes])

    add(history, title="History",
        description="A note's versions: every evolution, update and revert, with its diff and rationale.",
        annotations=READ, structured_output=True)

    @guarded
    async def revert(
        change_id: Annotated[str, Field(description="The change to undo, as history returns it")],
        namespace: Namespace = None,
    ) -> ChangeOut:
        return ChangeOut.of(await mem.revert(change_id, backend.scope(namespace)))

    add(revert, title="Revert", description="Undo one change: a new version restores the fields it rewrote.",
        annotations=write(destructive=False, idempotent=False), structured_output=True)
