"""Undo a truth-maintenance Change (supersede, mention, merge, forget).

Apart from :mod:`zettelmem.engine.truth` so that the write-path decisions there need
nothing from the pipeline (which calls them).
"""

from __future__ import annotations

from typing import Any

from zettelmem.engine.evolution import USER
from zettelmem.engine.parts import EngineParts
from zettelmem.engine.pipeline import refresh_metadata
from zettelmem.engine.truth import _plain, with_change
from zettelmem.errors import InvalidInput
from zettelmem.models import TRUTH_FIELDS, Change, Note, Relation
from zettelmem.stores.base import DeleteLinks, PutChanges, PutNotes

__all__ = ["revert_truth"]


async def revert_truth(parts: EngineParts, change: Change, note: Note) -> Change:
    """Undo a supersede, mention, merge or forget Change: restore its fields (and drop its link)."""
    unknown = set(change.before) - set(TRUTH_FIELDS)
    if unknown:
        raise InvalidInput(f"change {change.id} rewrote {sorted(unknown)}, not truth fields")
    current = _plain(note, list(change.before))
    after = {f: v for f, v in change.before.items() if current.get(f) != v}
    undo = Change(note_id=note.id, scope=note.scope, version_before=note.version,
                  version_after=note.version + (1 if after else 0), before={f: current[f] for f in after},
                  after=after, rationale=f"revert of {change.id}", agent=USER, kind="revert", reverts=change.id)
    if not after:
        return undo
    new = with_change(note, undo)
    ops: list[Any] = [PutNotes((new,)), PutChanges(note.scope, (undo,))]
    if change.kind == "supersede" and change.trigger:
        ops.append(DeleteLinks(note.scope, ((change.trigger, note.id, Relation.SUPERSEDES.value),)))
    await refresh_metadata(parts, [new])
    await parts.graph.abatch(ops)
    return undo
