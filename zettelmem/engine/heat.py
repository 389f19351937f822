"""Cold-note demotion (MemoryOS heat): a consolidate pass marks notes nobody reads.

MemoryOS moves memory segments whose *heat* (visits, recency) stays low out of
the working tier. Here a note is **cold** when, at the time of a consolidate
pass with ``ConsolidationConfig.demote_cold`` on (off by default):

* it was read (returned by ``search``, or by ``get``; :mod:`zettelmem.engine.access`)
  at most ``cold_reads`` times (default 0: never), and
* its last read -- or, never read, its creation -- is at least ``cold_days`` days
  old (default 90), and
* it is open (not superseded, not forgotten) and not already cold.

Demotion sets the note's ``cold`` attribute to the pass's time with a versioned
``demote`` Change (agent ``offline/heat``), which :meth:`~zettelmem.AsyncMemory.revert`
undoes like any truth Change. Nothing else of the note changes: it stays in
search, its content and links stay. Ranking uses it only through
``SearchConfig.cold_weight`` (a cold note's score times that factor, with a
``cold`` reason; default 1.0, i.e. ranking ignores it): no benchmark here shows
that demoting helps recall, so it is a label for inspection, filters of one's own
and tiered storage until one does. Reading a cold note again does not warm it
back up by itself; revert the ``demote`` Change for that.

The pass reads only the notes it is given (``consolidate(note_ids)``; a full
``Memory.consolidate()`` gives the scope's ids), in one batch write.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from zettelmem.config import ConsolidationConfig
from zettelmem.engine.parts import EngineParts
from zettelmem.engine.pipeline import refresh_metadata
from zettelmem.engine.truth import with_change
from zettelmem.models import BuiltBy, Change, Note, Scope, utcnow
from zettelmem.stores.base import PutChanges, PutNotes

__all__ = ["HEAT", "demote_cold", "is_cold"]

HEAT = BuiltBy(kind="offline", agent="heat", version="1")


def is_cold(note: Note, cfg: ConsolidationConfig, now: datetime) -> bool:
    """Open, warm so far, read at most ``cfg.cold_reads`` times, and untouched for ``cfg.cold_days`` days."""
    if note.cold is not None or note.valid_to is not None or note.forgotten:
        return False
    last = note.last_accessed or note.created_at
    return note.access_count <= cfg.cold_reads and now - last >= timedelta(days=cfg.cold_days)


async def demote_cold(parts: EngineParts, scope: Scope, note_ids: Sequence[str],
                      now: datetime | None = None) -> list[Change]:
    """Demote the cold notes among ``note_ids`` (nothing when ``demote_cold`` is off); their Changes."""
    cfg = parts.settings.consolidation
    if not cfg.demote_cold or not note_ids:
        return []
    now = now or utcnow()
    notes = [n for n in await parts.graph.aget_notes(scope, list(dict.fromkeys(note_ids)))
             if n is not None and is_cold(n, cfg, now)]
    changes: list[Change] = []
    demoted: list[Note] = []
    for note in notes:
        last = f"last read {note.last_accessed.isoformat()}" if note.last_accessed else "never read"
        change = Change(note_id=note.id, scope=scope, version_before=note.version, version_after=note.version + 1,
                        before={"cold": None}, after={"cold": now.isoformat()}, agent=HEAT, kind="demote",
                        rationale=f"cold: read {note.access_count} times, {last} (at most {cfg.cold_reads} reads, "
                                  f"{cfg.cold_days:g} days)")
        changes.append(change)
        demoted.append(with_change(note, change))
    if demoted:
        await refresh_metadata(parts, demoted)  # the vectors' version tag follows the note's
        await parts.graph.abatch([PutNotes(tuple(demoted)), PutChanges(scope, tuple(changes))])
    return changes
