"""Forgetting: soft (closed and hidden, kept for history) or hard (erased everywhere).

* **soft** -- a ``forget`` Change sets ``valid_to`` (now) and ``forgotten``;
  search never returns the note, ``get``/``history``/``as_of`` still do, and
  :meth:`~zettelmem.AsyncMemory.revert` brings it back.
* **hard** (the right to erasure) -- one graph transaction deletes the notes
  (their links and own Changes go with them) and rewrites every Change of a
  linked note that names them as trigger or quotes their text, and rebuilds the
  topic notes that summarize them (:func:`zettelmem.engine.topics.erase_members`);
  then their vectors are deleted, and the stores compact away freed pages and logs so the
  text is in none of the home folder's files. Exports read the stores, so they
  cannot show it either.

Unknown ids raise :class:`NoteNotFound` before anything is written; a filter
that matches nothing forgets nothing and says so.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from zettelmem.engine.erasure import ERASED, scrub
from zettelmem.engine.topics import erase_members
from zettelmem.errors import InvalidInput, NoteNotFound
from zettelmem.filters import Filter
from zettelmem.models import Change, Note, Scope, utcnow
from zettelmem.stores.base import DeleteNotes, PutChanges, PutMeta, PutNotes

if TYPE_CHECKING:
    from zettelmem.engine.parts import EngineParts

__all__ = ["ERASED", "ForgetReport", "finish_erase", "forget", "pending_key", "resume_erase", "scrub"]


class ForgetReport(BaseModel):
    """What a ``forget`` call did."""

    forgotten: list[str] = Field(default_factory=list)  # note ids
    hard: bool = False
    scrubbed_changes: int = 0  # Changes of other notes rewritten because they quoted a forgotten note
    topics_rebuilt: list[str] = Field(default_factory=list)  # topic notes rebuilt without the erased members
    topics_dissolved: list[str] = Field(default_factory=list)  # topic notes left with < 2 members, deleted
    message: str = ""


async def _targets(parts: EngineParts, ids: Sequence[str] | None, where: Filter | None, scope: Scope) -> list[Note]:
    if ids is not None:
        wanted = list(dict.fromkeys(ids))
        found = await parts.graph.aget_notes(scope, wanted)
        missing = [i for i, n in zip(wanted, found, strict=True) if n is None]
        if missing:
            raise NoteNotFound(f"no note {missing[0]!r} in scope {scope} (nothing was forgotten)")
        return [n for n in found if n is not None]
    return await asyncio.to_thread(parts.graph.list_notes, scope, where)


async def forget(parts: EngineParts, ids: str | Sequence[str] | None, where: Filter | None, scope: Scope,
                 hard: bool) -> ForgetReport:
    """Forget notes by id or by filter (exactly one of them), softly or for good."""
    if (ids is None) == (where is None):
        raise InvalidInput("forget needs note ids or a filter (one of them)")
    if isinstance(ids, str):
        ids = [ids]
    if ids is not None and not ids:
        raise InvalidInput("forget got an empty list of ids")
    notes = await _targets(parts, ids, where, scope)
    if not notes:
        return ForgetReport(hard=hard, message=f"no note in scope {scope} matched the filter; nothing was forgotten")
    if not hard:
        return await _soft(parts, notes, scope)
    return await _hard(parts, notes, scope)


async def _soft(parts: EngineParts, notes: list[Note], scope: Scope) -> ForgetReport:
    from zettelmem.engine.evolution import USER
    from zettelmem.engine.truth import with_change

    now = utcnow()
    changes, updated = [], []
    for n in notes:
        if n.forgotten:
            continue
        change = Change(note_id=n.id, scope=scope, version_before=n.version, version_after=n.version + 1,
                        before={"valid_to": n.model_dump(mode="json")["valid_to"], "forgotten": False},
                        after={"valid_to": now.isoformat(), "forgotten": True},
                        rationale="forgotten by the user (soft: kept for history)", agent=USER, kind="forget")
        changes.append(change)
        updated.append(with_change(n, change))
    if updated:
        from zettelmem.engine.pipeline import refresh_metadata

        await refresh_metadata(parts, updated)
        await parts.graph.abatch([PutNotes(tuple(updated)), PutChanges(scope, tuple(changes))])
    already = len(notes) - len(updated)
    return ForgetReport(forgotten=[n.id for n in notes], hard=False,
                        message=f"forgot {len(updated)} note(s) softly" + (f" ({already} already forgotten)" if already else ""))


async def _hard(parts: EngineParts, notes: list[Note], scope: Scope) -> ForgetReport:
    ids = {n.id for n in notes}
    texts = [t for n in notes for t in (n.content, n.context) if t and len(t) >= 8]
    links = await parts.graph.aget_links(scope, sorted(ids))
    topics = await erase_members(parts, scope, notes, links)  # topic notes rebuilt without them, or dissolved
    skip = ids | topics.handled | set(topics.dissolved)
    neighbours = sorted({lk.other(i) for lk in links for i in (lk.source, lk.target) if i in ids} - skip)
    scrubbed: list[Change] = []
    for other in neighbours:
        for change in await asyncio.to_thread(parts.graph.history, scope, other):
            clean = scrub(change, ids, texts)
            if clean is not None:
                scrubbed.append(clean)
    ops: list[Any] = [PutChanges(scope, tuple(scrubbed))] if scrubbed else []
    gone = sorted(ids | set(topics.dissolved))
    ops += [*topics.ops(scope), DeleteNotes(scope, tuple(gone))]
    # one transaction: erased, scrubbed and the rest of the job recorded, or none of it
    ops.append(PutMeta(pending_key(parts), json.dumps({"scope": scope.key, "ids": gone})))
    await parts.graph.abatch(ops)
    await asyncio.to_thread(finish_erase, parts, scope, gone)
    rebuilt = sorted(topics.handled)
    return ForgetReport(forgotten=sorted(ids), hard=True, scrubbed_changes=len(scrubbed),
                        topics_rebuilt=rebuilt, topics_dissolved=sorted(topics.dissolved),
                        message=f"erased {len(ids)} note(s); {len(scrubbed)} change(s) of linked notes scrubbed"
                        + (f"; {len(rebuilt)} topic note(s) rebuilt" if rebuilt else "")
                        + (f", {len(topics.dissolved)} dissolved" if topics.dissolved else ""))


def pending_key(parts: EngineParts) -> str:
    """Meta key of this memory's unfinished erasure (one per vector index: a Neo4j server is shared)."""
    return f"erase\x1fpending\x1f{getattr(parts.vectors, 'where', '')}"


def finish_erase(parts: EngineParts, scope: Scope, ids: list[str]) -> None:
    """After the graph commit: delete the vectors, compact the stores, clear the pending record.

    Every step is idempotent, so a run cut short (``kill -9``) is finished by
    :func:`resume_erase` when the memory is opened again.
    """
    from zettelmem.config import ChromaLocalConfig
    from zettelmem.vectors.erase import scrub_local_chroma

    parts.vectors.delete(ids, scope)
    parts.graph.compact()
    if isinstance(parts.settings.vectors, ChromaLocalConfig) and type(parts.vectors).__name__ == "ChromaVectorIndex":
        scrub_local_chroma(parts.settings.chroma_path(), ids)
    parts.graph.put_meta(pending_key(parts), "{}")


def resume_erase(parts: EngineParts) -> list[str]:
    """Finish a hard forget that was interrupted after its graph commit; returns the ids finished."""
    raw = parts.graph.get_meta(pending_key(parts))
    job = json.loads(raw) if raw else {}
    ids = [str(i) for i in job.get("ids", [])]
    if ids:
        finish_erase(parts, Scope.from_key(job["scope"]), ids)
    return ids
