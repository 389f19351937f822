"""The GraphStore contract: two primitives over small frozen ops.

A backend implements :meth:`GraphStore.batch` (and may override ``abatch``); every
convenience method is written once here. The writes of one ``batch`` call are
atomic: all of them land or none does. Every op that reads or writes notes names
a :class:`~zettelmem.models.Scope`, and a backend must never return or touch
anything outside it (scopes match exactly, never by prefix).

Result of each op, in order:

=================  ==========================================================
op                 result
=================  ==========================================================
PutNotes           None (upsert by id)
GetNotes           list[Note | None], aligned with ``ids``
ListNotes          list[Note] matching the filter, oldest first, paged
DeleteNotes        int: notes deleted (their links and changes go too)
PutLinks           None (upsert by (source, target, relation)); both ends must
                   exist in the scope, else NoteNotFound
DeleteLinks        int: links deleted
GetLinks           list[Link] touching any of ``note_ids``
PutChanges         None
GetChanges         list[Change] oldest first (by note, or by change id)
CountAll           dict(notes=, links=, changes=) in the scope (all scopes if None)
ListScopes         list[Scope] that hold at least one note
GetMeta / PutMeta  str | None / None: store-level settings (embedding model, ...)
SearchText         list[(note id, score)]: full-text top ``k`` in the scope, best
                   first, scores > 0 (higher is better); ``field="note"`` scores
                   the note's own text, ``"thread"`` adds the text of the notes
                   it answers or follows (:mod:`zettelmem.stores.lexical`). Any
                   user text is a valid query (operators are searched as words);
                   no words, ``k <= 0`` or an empty scope give ``[]``.
=================  ==========================================================

Full-text rows are written in the same transaction as the note and link writes
that change them, so they can never disagree with the notes after a crash.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Self, cast

from zettelmem.errors import ChangeNotFound, NoteNotFound
from zettelmem.filters import Filter
from zettelmem.models import Change, Link, Note, Scope
from zettelmem.stores.lexical import TextField

__all__ = [
    "CountAll",
    "DeleteLinks",
    "DeleteNotes",
    "GetChanges",
    "GetLinks",
    "GetMeta",
    "GetNotes",
    "GraphStore",
    "ListNotes",
    "ListScopes",
    "Op",
    "PutChanges",
    "PutLinks",
    "PutMeta",
    "PutNotes",
    "SearchText",
]


@dataclass(frozen=True, slots=True)
class PutNotes:
    notes: tuple[Note, ...]


@dataclass(frozen=True, slots=True)
class GetNotes:
    scope: Scope
    ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ListNotes:
    scope: Scope
    where: Filter | None = None
    limit: int | None = None
    offset: int = 0


@dataclass(frozen=True, slots=True)
class DeleteNotes:
    scope: Scope
    ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PutLinks:
    scope: Scope
    links: tuple[Link, ...]


@dataclass(frozen=True, slots=True)
class DeleteLinks:
    scope: Scope
    keys: tuple[tuple[str, str, str | None], ...]  # (source, target, relation or any)


@dataclass(frozen=True, slots=True)
class GetLinks:
    scope: Scope
    note_ids: tuple[str, ...]
    direction: Literal["out", "in", "both"] = "both"


@dataclass(frozen=True, slots=True)
class PutChanges:
    scope: Scope
    changes: tuple[Change, ...]


@dataclass(frozen=True, slots=True)
class GetChanges:
    scope: Scope
    note_id: str | None = None
    change_id: str | None = None


@dataclass(frozen=True, slots=True)
class CountAll:
    scope: Scope | None = None


@dataclass(frozen=True, slots=True)
class ListScopes:
    pass


@dataclass(frozen=True, slots=True)
class GetMeta:
    key: str


@dataclass(frozen=True, slots=True)
class PutMeta:
    key: str
    value: str


@dataclass(frozen=True, slots=True)
class SearchText:
    scope: Scope
    query: str
    k: int
    field: TextField = "note"
    where: Filter | None = None


Op = (
    PutNotes
    | GetNotes
    | ListNotes
    | DeleteNotes
    | PutLinks
    | DeleteLinks
    | GetLinks
    | PutChanges
    | GetChanges
    | CountAll
    | ListScopes
    | GetMeta
    | PutMeta
    | SearchText
)


class GraphStore(ABC):
    """Base class of graph backends: implement ``batch``; the rest is shared."""

    name: str = "graph"

    @abstractmethod
    def batch(self, ops: Sequence[Op]) -> list[Any]:
        """Run ops in order, writes atomically; return one result per op."""

    async def abatch(self, ops: Sequence[Op]) -> list[Any]:
        """Async ``batch``; the default runs the sync one in a worker thread."""
        return await asyncio.to_thread(self.batch, ops)

    def setup(self) -> None:
        """Create or migrate the schema (explicit; never from a constructor)."""

    def close(self) -> None:
        """Release files, locks and connections."""

    # -- convenience, written once ------------------------------------------------
    def get_note(self, scope: Scope, note_id: str) -> Note:
        note = cast("Note | None", self.batch([GetNotes(scope, (note_id,))])[0][0])
        if note is None:
            raise NoteNotFound(f"no note {note_id!r} in scope {scope}")
        return note

    def get_notes(self, scope: Scope, ids: Iterable[str]) -> list[Note | None]:
        return cast("list[Note | None]", self.batch([GetNotes(scope, tuple(ids))])[0])

    async def aget_notes(self, scope: Scope, ids: Iterable[str]) -> list[Note | None]:
        return cast("list[Note | None]", (await self.abatch([GetNotes(scope, tuple(ids))]))[0])

    def put_notes(self, notes: Iterable[Note]) -> None:
        self.batch([PutNotes(tuple(notes))])

    def list_notes(
        self, scope: Scope, where: Filter | None = None, limit: int | None = None, offset: int = 0
    ) -> list[Note]:
        return cast("list[Note]", self.batch([ListNotes(scope, where, limit, offset)])[0])

    def delete_notes(self, scope: Scope, ids: Iterable[str]) -> int:
        return cast(int, self.batch([DeleteNotes(scope, tuple(ids))])[0])

    def put_links(self, scope: Scope, links: Iterable[Link]) -> None:
        self.batch([PutLinks(scope, tuple(links))])

    def delete_links(self, scope: Scope, keys: Iterable[tuple[str, str, str | None]]) -> int:
        return cast(int, self.batch([DeleteLinks(scope, tuple(keys))])[0])

    def links_of(
        self, scope: Scope, note_ids: Iterable[str], direction: Literal["out", "in", "both"] = "both"
    ) -> list[Link]:
        return cast("list[Link]", self.batch([GetLinks(scope, tuple(note_ids), direction)])[0])

    def history(self, scope: Scope, note_id: str) -> list[Change]:
        return cast("list[Change]", self.batch([GetChanges(scope, note_id=note_id)])[0])

    def get_change(self, scope: Scope, change_id: str) -> Change:
        found = self.batch([GetChanges(scope, change_id=change_id)])[0]
        if not found:
            raise ChangeNotFound(f"no change {change_id!r} in scope {scope}")
        return cast(Change, found[0])

    def count(self, scope: Scope | None = None) -> dict[str, int]:
        return cast("dict[str, int]", self.batch([CountAll(scope)])[0])

    def scopes(self) -> list[Scope]:
        return cast("list[Scope]", self.batch([ListScopes()])[0])

    def search_text(
        self, scope: Scope, query: str, k: int, field: TextField = "note", where: Filter | None = None
    ) -> list[tuple[str, float]]:
        """Full-text top ``k`` (note id, score) in ``scope``, best first."""
        return cast("list[tuple[str, float]]", self.batch([SearchText(scope, query, k, field, where)])[0])

    async def asearch_text(
        self, scope: Scope, query: str, k: int, field: TextField = "note", where: Filter | None = None
    ) -> list[tuple[str, float]]:
        return cast("list[tuple[str, float]]", (await self.abatch([SearchText(scope, query, k, field, where)]))[0])

    def check_text_index(self, scope: Scope | None = None, repair: bool = False) -> dict[str, list[str]]:
        """Note ids whose full-text rows are ``missing``, ``stale`` or ``orphan`` (rows without a note).

        With ``repair``, rebuild those rows (the result still lists what was found). The
        default suits backends whose full-text index is kept by the database itself.
        """
        return {"missing": [], "stale": [], "orphan": []}

    def get_meta(self, key: str) -> str | None:
        return cast("str | None", self.batch([GetMeta(key)])[0])

    def put_meta(self, key: str, value: str) -> None:
        self.batch([PutMeta(key, value)])

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
