"""Ingesting records with a progress bar (shared by ``ingest`` and ``demo``)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from zettelmem.cli.jsonl import Record
from zettelmem.engine.results import AddResult
from zettelmem.models import Scope

__all__ = ["IngestReport", "ingest_records"]


@dataclass
class IngestReport:
    results: list[AddResult] = field(default_factory=list)
    tagged: int = 0
    seconds: float = 0.0

    def summary(self) -> dict[str, Any]:
        return {
            "notes": len(self.results),
            "links": sum(len(r.links) for r in self.results),
            "evolutions": sum(len(r.changes) for r in self.results),
            "rejected": sum(len(r.rejected) for r in self.results),
            "tagged": self.tagged,
            "seconds": round(self.seconds, 2),
            "llm_calls": sum(r.usage.calls for r in self.results),
            "ids": [r.note.id for r in self.results],
        }


def ingest_records(mem: Any, records: Sequence[Record], scope: Scope, *, batch_size: int | None = None,
                   evolve: bool | None = None, console: Console | None = None,
                   label: str = "ingesting", show_progress: bool = True) -> IngestReport:
    """``add_many`` the records with a rich progress bar, then apply their given tags.

    Tags given in the input are added to the built ones as a user update (a
    versioned change), because the engine builds tags itself.
    """
    started = time.perf_counter()
    report = IngestReport()
    progress = Progress(TextColumn("[progress.description]{task.description}"), BarColumn(),
                        MofNCompleteColumn(), TimeElapsedColumn(), console=console, transient=False,
                        disable=not show_progress)
    with progress:
        task = progress.add_task(label, total=len(records))

        def tick(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        report.results = mem.add_many([r.item for r in records], scope=scope, batch_size=batch_size,
                                      evolve=evolve, progress=tick)
    for rec, res in zip(records, report.results, strict=True):
        if rec.tags:
            merged = list(dict.fromkeys([*res.note.tags, *rec.tags]))
            if merged != res.note.tags:
                mem.update(res.note.id, scope, tags=merged, rationale="tags given in the input")
                report.tagged += 1
    report.seconds = time.perf_counter() - started
    return report
