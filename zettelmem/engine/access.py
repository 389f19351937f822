"""Access statistics (MemoryOS-style heat): reads are counted in memory and written in batches.

``search`` and ``get`` record the notes they return; every ``FLUSH_EVERY`` reads,
at the next write and on close, the pending counts are added to each note's
``access_count`` and ``last_accessed`` in one graph batch (not one write per
hit). Access stats are bookkeeping, not knowledge: no Change is recorded and
the version does not move.

The optional heat factor (``SearchConfig.heat_weight``, 0 = off, the default)
multiplies a hit's fused score by ``1 + heat_weight * heat`` where
``heat = log1p(access_count) / log1p(HEAT_SATURATION) * 0.5 ** (days since last
access / HEAT_HALF_LIFE_DAYS)``, capped at 1: often and recently read notes rise
a little. It is off by default because no benchmark here shows it helps.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import TYPE_CHECKING

from zettelmem.models import Note, Scope, utcnow
from zettelmem.stores.base import PutNotes

if TYPE_CHECKING:
    from zettelmem.stores.base import GraphStore

__all__ = ["FLUSH_EVERY", "AccessLog", "heat"]

FLUSH_EVERY = 256
HEAT_SATURATION = 20
HEAT_HALF_LIFE_DAYS = 30.0


def heat(note: Note, now: datetime | None = None) -> float:
    """How warm a note is, in [0, 1]: read often and lately."""
    if not note.access_count or note.last_accessed is None:
        return 0.0
    days = max(0.0, ((now or utcnow()) - note.last_accessed).total_seconds() / 86400)
    often = min(1.0, math.log1p(note.access_count) / math.log1p(HEAT_SATURATION))
    return float(often * 0.5 ** (days / HEAT_HALF_LIFE_DAYS))


class AccessLog:
    """Pending reads per note, flushed in one batch."""

    def __init__(self) -> None:
        self.pending: dict[tuple[Scope, str], tuple[int, datetime]] = {}
        self.reads = 0

    def record(self, scope: Scope, ids: list[str]) -> bool:
        """Count one read of each id; True when a flush is due."""
        now = utcnow()
        for i in ids:
            n, _ = self.pending.get((scope, i), (0, now))
            self.pending[(scope, i)] = (n + 1, now)
        self.reads += len(ids)
        return self.reads >= FLUSH_EVERY

    async def flush(self, graph: GraphStore) -> int:
        """Add the pending counts to the stored notes (call under the write lock); returns notes written."""
        if not self.pending:
            return 0
        pending, self.pending, self.reads = self.pending, {}, 0
        by_scope: dict[Scope, list[str]] = {}
        for scope, i in pending:
            by_scope.setdefault(scope, []).append(i)
        updated: list[Note] = []
        for scope, ids in by_scope.items():
            for note in await graph.aget_notes(scope, ids):
                if note is None:
                    continue  # deleted since it was read
                n, when = pending[(scope, note.id)]
                last = max(when, note.last_accessed) if note.last_accessed else when
                updated.append(note.model_copy(update={"access_count": note.access_count + n, "last_accessed": last}))
        if updated:
            await graph.abatch([PutNotes(tuple(updated))])
        return len(updated)
