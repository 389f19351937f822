"""Ingesting records with a progress bar (shared by ``ingest`` and ``demo``)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from zettelmem.cli._common import err_console
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
            "llm_fallbacks": self.fallbacks(),
            "ids": [r.note.id for r in self.results],
        }

    def fallbacks(self) -> int:
        """Memories (or link / evolve steps) the offline agents did because the LLM failed."""
        return sum(r.usage.fallbacks for r in self.results)

    def fallback_warning(self) -> str | None:
        """One line for the run when the LLM failed (count and first reason), else None."""
        count = self.fallbacks()
        if not count:
            return None
        reason = next((r.note.built_by.fallback_reason for r in self.results if r.note.built_by.fallback_reason),
                      None) or "see `zettelmem stats`"
        return (f"warning: {count} memor{'y was' if count == 1 else 'ies were'} built offline because the LLM "
                f"failed (first reason: {reason}); set ZETTELMEM_LLM_REQUIRED=1 to fail instead")


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
    warning = report.fallback_warning()
    if warning is not None:  # loud, on stderr, whatever the output format
        err_console.print(f"[bold yellow]{escape(warning)}[/]", soft_wrap=True)
    return report
