"""Ingesting records with a progress bar (shared by ``ingest``, ``add`` and ``demo``).

Every record is validated into a memory before the first write, so a refused
run stores nothing. Records whose idempotency key is already stored in the scope
are skipped, so rerunning an interrupted ingest adds only what is missing. If a
write fails part-way, what was committed (whole batches) is reported by line.
"""

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
from zettelmem.engine.ingest_keys import stored_keys
from zettelmem.engine.results import AddResult
from zettelmem.errors import InvalidInput
from zettelmem.models import Scope

__all__ = ["IngestReport", "ingest_records", "line_ranges"]


@dataclass
class IngestReport:
    results: list[AddResult] = field(default_factory=list)
    tagged: int = 0
    seconds: float = 0.0
    skipped: dict[int, str] = field(default_factory=dict)  # line -> id of the note already stored

    def summary(self) -> dict[str, Any]:
        return {
            "notes": len(self.results),
            "links": sum(len(r.links) for r in self.results),
            "evolutions": sum(len(r.changes) for r in self.results),
            "rejected": sum(len(r.rejected) for r in self.results),
            "tagged": self.tagged,
            "skipped": len(self.skipped),
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


def line_ranges(lines: Sequence[int]) -> str:
    """``[1, 2, 3, 7]`` -> ``"1-3, 7"``."""
    out: list[str] = []
    for n in sorted(lines):
        if out and int(out[-1].split("-")[-1]) == n - 1:
            out[-1] = f"{out[-1].split('-')[0]}-{n}"
        else:
            out.append(str(n))
    return ", ".join(out)


def ingest_records(mem: Any, records: Sequence[Record], scope: Scope, *, batch_size: int | None = None,
                   evolve: bool | None = None, console: Console | None = None,
                   label: str = "ingesting", show_progress: bool = True) -> IngestReport:
    """``add_many`` the records not stored yet, with a rich progress bar.

    Tags given in the input are stored with the note in the same commit. Raises
    :class:`InvalidInput` naming the line if any record is refused (nothing is
    written then).
    """
    started = time.perf_counter()
    report = IngestReport()
    items = []
    for rec in records:  # validate every record before the first write
        try:
            items.append(mem.aio.to_input(rec.item, scope))
        except InvalidInput as exc:
            raise type(exc)(f"line {rec.line}: {exc}") from None
    keyed = [r.key for r in records if r.key]
    done = stored_keys(mem.aio.graph, scope, keyed) if keyed else {}
    todo = [(rec, item) for rec, item in zip(records, items, strict=True) if rec.key not in done]
    report.skipped = {rec.line: done[rec.key] for rec in records if rec.key in done}
    progress = Progress(TextColumn("[progress.description]{task.description}"), BarColumn(),
                        MofNCompleteColumn(), TimeElapsedColumn(), console=console, transient=False,
                        disable=not show_progress)
    stored = 0
    with progress:
        task = progress.add_task(label, total=len(todo))

        def tick(n: int, total: int) -> None:
            nonlocal stored
            stored = n
            progress.update(task, completed=n, total=total)

        try:
            report.results = mem.add_many([item for _, item in todo], scope=scope, batch_size=batch_size,
                                          evolve=evolve, progress=tick) if todo else []
        except BaseException:
            if stored and console is not None:
                lines = line_ranges([rec.line for rec, _ in todo[:stored]])
                console.print(f"stored lines {lines} before the failure; rerun the same command to add the rest",
                              markup=False)
            raise
    report.tagged = sum(1 for rec, _ in todo if rec.tags)
    report.seconds = time.perf_counter() - started
    warning = report.fallback_warning()
    if warning is not None:  # loud, on stderr, whatever the output format
        err_console.print(f"[bold yellow]{escape(warning)}[/]", soft_wrap=True)
    return report
