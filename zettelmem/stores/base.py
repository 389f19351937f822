"""The GraphStore contract: two primitives over small frozen ops.

A backend implements :meth:`GraphStore.batch` (and may override ``abatch``); every
convenience method is written once here, as a request (ops + how to read their
results) from which ``GraphStore`` makes the sync method (through ``batch``) and
its async twin (through ``abatch``): ``get_notes``/``aget_notes``. Methods are
named after their op (``GetLinks`` -> ``get_links``, ``ListScopes`` ->
``list_scopes``, ``CountAll`` -> ``count_all``); ``get_note``, ``history`` and
``get_change`` are the single-item readers of ``GetNotes`` and ``GetChanges``. The writes of one ``batch`` call are
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
import inspect
from abc import ABC, abstractmethod
from collections.abc import Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Concatenate, Generic, Literal, ParamSpec, Self, TypeVar, cast

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


R = TypeVar("R")
P = ParamSpec("P")


@dataclass(frozen=True, slots=True)
class _Request(Generic[R]):
    """What one convenience call sends (its ops) and how it reads its answer (from their results)."""

    ops: tuple[Op, ...]
    read: Callable[[list[Any]], R]


def _first(results: list[Any]) -> Any:
    return results[0]


def _nothing(results: list[Any]) -> None:
    return None


def _twins(
    build: Callable[P, _Request[R]],
) -> tuple[Callable[Concatenate[GraphStore, P], R], Callable[Concatenate[GraphStore, P], Coroutine[Any, Any, R]]]:
    """A convenience method (through ``batch``) and its async twin (through ``abatch``) from one request builder.

    Both keep the builder's parameters (for type checkers too) and its docstring; the
    method is named after the builder (``_get_notes`` -> ``get_notes``), the twin gets
    an ``a`` in front (``aget_notes``).
    """
    name = build.__name__.lstrip("_")

    def method(self: GraphStore, /, *args: P.args, **kwargs: P.kwargs) -> R:
        request = build(*args, **kwargs)
        return request.read(self.batch(request.ops))

    async def twin(self: GraphStore, /, *args: P.args, **kwargs: P.kwargs) -> R:
        request = build(*args, **kwargs)
        return request.read(await self.abatch(request.ops))

    sig = inspect.signature(build)
    self_param = inspect.Parameter("self", inspect.Parameter.POSITIONAL_ONLY)
    returns = str(sig.return_annotation).removeprefix("_Request[").removesuffix("]")  # "_Request[R]" -> "R"
    for fn, fn_name, doc in ((method, name, build.__doc__),
                             (twin, f"a{name}", f"Async twin of :meth:`{name}`. {build.__doc__ or ''}")):
        fn.__name__, fn.__qualname__, fn.__doc__ = fn_name, f"GraphStore.{fn_name}", doc
        fn.__module__ = build.__module__
        # what inspect.signature / help() show: the builder's parameters after self
        setattr(fn, "__signature__", sig.replace(parameters=[self_param, *sig.parameters.values()],  # noqa: B010
                                                 return_annotation=returns))
    return method, twin


# The convenience requests, one per method (GraphStore turns each into a method and its async twin).
def _get_note(scope: Scope, note_id: str) -> _Request[Note]:
    """One note by id; :class:`NoteNotFound` if it is not in ``scope``."""

    def read(results: list[Any]) -> Note:
        note = cast("Note | None", results[0][0])
        if note is None:
            raise NoteNotFound(f"no note {note_id!r} in scope {scope}")
        return note

    return _Request((GetNotes(scope, (note_id,)),), read)


def _get_notes(scope: Scope, ids: Iterable[str]) -> _Request[list[Note | None]]:
    """Notes by id, aligned with ``ids`` (``None`` where an id is not in ``scope``)."""
    return _Request((GetNotes(scope, tuple(ids)),), _first)


def _put_notes(notes: Iterable[Note]) -> _Request[None]:
    """Upsert notes by id (each in its own scope)."""
    return _Request((PutNotes(tuple(notes)),), _nothing)


def _list_notes(scope: Scope, where: Filter | None = None, limit: int | None = None,
                offset: int = 0) -> _Request[list[Note]]:
    """Notes of ``scope`` matching ``where``, oldest first, paged by ``limit``/``offset``."""
    return _Request((ListNotes(scope, where, limit, offset),), _first)


def _delete_notes(scope: Scope, ids: Iterable[str]) -> _Request[int]:
    """Delete notes with their links and changes; returns how many notes were deleted."""
    return _Request((DeleteNotes(scope, tuple(ids)),), _first)


def _put_links(scope: Scope, links: Iterable[Link]) -> _Request[None]:
    """Upsert links by (source, target, relation); both ends must be in ``scope`` (else NoteNotFound)."""
    return _Request((PutLinks(scope, tuple(links)),), _nothing)


def _delete_links(scope: Scope, keys: Iterable[tuple[str, str, str | None]]) -> _Request[int]:
    """Delete links by (source, target, relation or ``None`` for any); returns how many."""
    return _Request((DeleteLinks(scope, tuple(keys)),), _first)


def _get_links(scope: Scope, note_ids: Iterable[str],
               direction: Literal["out", "in", "both"] = "both") -> _Request[list[Link]]:
    """Links touching any of ``note_ids`` (leaving them, entering them, or both)."""
    return _Request((GetLinks(scope, tuple(note_ids), direction),), _first)


def _put_changes(scope: Scope, changes: Iterable[Change]) -> _Request[None]:
    """Record changes (the audit trail of versions)."""
    return _Request((PutChanges(scope, tuple(changes)),), _nothing)


def _get_changes(scope: Scope, note_id: str | None = None, change_id: str | None = None) -> _Request[list[Change]]:
    """Changes of a note, or the change with an id, oldest first."""
    return _Request((GetChanges(scope, note_id=note_id, change_id=change_id),), _first)


def _history(scope: Scope, note_id: str) -> _Request[list[Change]]:
    """Every change of one note, oldest first (empty for an unknown note)."""
    return _Request((GetChanges(scope, note_id=note_id),), _first)


def _get_change(scope: Scope, change_id: str) -> _Request[Change]:
    """One change by id; :class:`ChangeNotFound` if it is not in ``scope``."""

    def read(results: list[Any]) -> Change:
        if not results[0]:
            raise ChangeNotFound(f"no change {change_id!r} in scope {scope}")
        return cast(Change, results[0][0])

    return _Request((GetChanges(scope, change_id=change_id),), read)


def _count_all(scope: Scope | None = None) -> _Request[dict[str, int]]:
    """``{"notes": n, "links": n, "changes": n}`` in ``scope`` (in all scopes if ``None``)."""
    return _Request((CountAll(scope),), _first)


def _list_scopes() -> _Request[list[Scope]]:
    """Every scope that holds at least one note."""
    return _Request((ListScopes(),), _first)


def _search_text(scope: Scope, query: str, k: int, field: TextField = "note",
                 where: Filter | None = None) -> _Request[list[tuple[str, float]]]:
    """Full-text top ``k`` (note id, score) in ``scope``, best first."""
    return _Request((SearchText(scope, query, k, field, where),), _first)


def _get_meta(key: str) -> _Request[str | None]:
    """A store-level setting (embedding model, session tails, ...), ``None`` if unset."""
    return _Request((GetMeta(key),), _first)


def _put_meta(key: str, value: str) -> _Request[None]:
    """Set a store-level setting."""
    return _Request((PutMeta(key, value),), _nothing)


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

    def compact(self) -> None:
        """Drop freed pages and logs that may still hold deleted text (after a hard forget)."""

    # -- convenience, written once: each line below makes a sync method and its async twin --
    get_note, aget_note = _twins(_get_note)
    get_notes, aget_notes = _twins(_get_notes)
    put_notes, aput_notes = _twins(_put_notes)
    list_notes, alist_notes = _twins(_list_notes)
    delete_notes, adelete_notes = _twins(_delete_notes)
    put_links, aput_links = _twins(_put_links)
    delete_links, adelete_links = _twins(_delete_links)
    get_links, aget_links = _twins(_get_links)
    put_changes, aput_changes = _twins(_put_changes)
    get_changes, aget_changes = _twins(_get_changes)
    history, ahistory = _twins(_history)
    get_change, aget_change = _twins(_get_change)
    count_all, acount_all = _twins(_count_all)
    list_scopes, alist_scopes = _twins(_list_scopes)
    search_text, asearch_text = _twins(_search_text)
    get_meta, aget_meta = _twins(_get_meta)
    put_meta, aput_meta = _twins(_put_meta)

    def check_text_index(self, scope: Scope | None = None, repair: bool = False) -> dict[str, list[str]]:
        """Note ids whose full-text rows are ``missing``, ``stale`` or ``orphan`` (rows without a note).

        With ``repair``, rebuild those rows (the result still lists what was found). The
        default suits backends whose full-text index is kept by the database itself.
        """
        return {"missing": [], "stale": [], "orphan": []}

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
