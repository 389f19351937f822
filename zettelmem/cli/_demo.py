"""``zettelmem demo``: the whole loop on the bundled dialogue, offline, in a few seconds."""

from __future__ import annotations

import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from rich.panel import Panel
from rich.rule import Rule
from rich.text import Text

from zettelmem.cli import _render as render
from zettelmem.cli._common import State, console, err_console
from zettelmem.cli._ingest import ingest_records
from zettelmem.cli.jsonl import bundled_dialogue
from zettelmem.engine.results import AddResult
from zettelmem.errors import InvalidInput
from zettelmem.models import Change, Link, Note

__all__ = ["QUERIES", "pick_evolution", "run_demo"]

#: The showcase searches; tests/test_search_quality.py asserts their expected top hits.
QUERIES = (
    "Which neighbourhood did Maya move to?",
    "Who is the new baker at the bakery?",
    "When is Jonas visiting Seattle?",
)


def _session_turn(note: Note) -> tuple[int, int]:
    p = note.provenance
    try:
        return int(p.session or 0), int(p.turn or 0)
    except ValueError:
        return 0, 0


def pick_evolution(results: list[AddResult], notes: dict[str, Note]) -> Change | None:
    """The most telling applied evolution: a later session refining an earlier one, then the biggest diff."""
    best: tuple[tuple[int, int, int], Change] | None = None
    for r in results:
        for c in r.changes:
            target, trigger = notes.get(c.note_id), notes.get(c.trigger or "")
            if target is None or trigger is None:
                continue
            gap = _session_turn(trigger)[0] - _session_turn(target)[0]
            size = sum(len(set(c.after.get(f) or []) - set(c.before.get(f) or []))
                       for f in c.after if isinstance(c.after.get(f), list))
            key = (gap, size, -_session_turn(target)[1])
            if best is None or key > best[0]:
                best = (key, c)
    return best[1] if best else None


def _pick_links(links: list[Link], limit: int = 12) -> list[Link]:
    """One link of each relation first (strongest), then the strongest others."""
    ordered = sorted(links, key=lambda lk: -lk.weight)
    chosen: list[Link] = []
    for rel in dict.fromkeys(lk.relation for lk in ordered):
        chosen.append(next(lk for lk in ordered if lk.relation == rel))
    for lk in ordered:
        if len(chosen) >= limit:
            break
        if lk not in chosen:
            chosen.append(lk)
    return chosen[:limit]


def _demo_home(home: Path | None) -> Path:
    if home is None:
        return Path(tempfile.mkdtemp(prefix="zettelmem-demo-"))
    home = home.expanduser()
    if home.exists() and (not home.is_dir() or any(home.iterdir())):
        raise InvalidInput(f"demo needs a new or empty folder; {home} is not empty")
    return home


def run_demo(state: State, home: Path | None, *, use_llm: bool | None = None,
             turns: int | None = None) -> dict[str, Any]:
    """Ingest the bundled dialogue into ``home`` and show what the memory made of it."""
    from zettelmem.export import to_graphml, to_html, to_networkx, to_node_link

    started = time.perf_counter()
    home = _demo_home(home)
    console.print(Rule("zettelmem demo"))
    console.print(f"Memory folder: {home}", markup=False)
    records = bundled_dialogue(speaker_prefix=True)[:turns]
    scope = state.scope
    overrides: dict[str, Any] = {} if use_llm is None else {"use_llm": use_llm}
    with state.memory(home, **overrides) as mem:
        st = mem.stats(scope)
        console.print(f"Agents: {st['agents']} · embeddings: {st['embedding_model']} · graph: {st['graph_backend']}",
                      markup=False)
        console.print(f"Ingesting the bundled dialogue: {len(records)} turns, "
                      f"{len({r.item['provenance'].session for r in records})} sessions (Maya and Jonas).",
                      markup=False)
        report = ingest_records(mem, records, scope, console=err_console, label="ingesting dialogue")
        notes = {n.id: n for n in mem.list(scope)}
        results = report.results
        labels = {i: render.who(n) for i, n in notes.items()}

        console.print(Rule("notes built"))
        ordered = [notes[r.note.id] for r in results if r.note.id in notes]
        console.print(render.notes_table(ordered, content=False, max_labels=4))

        console.print(Rule("links made"))
        links = [lk for r in results for lk in r.links]
        counts = Counter(lk.relation.value for lk in links)
        console.print(f"{len(links)} links: " + ", ".join(f"{rel} {n}" for rel, n in counts.most_common()),
                      markup=False)
        sample = "a sample (one of each relation, then the strongest)"
        console.print(render.links_table(_pick_links(links), labels, sample))

        console.print(Rule("evolution"))
        applied = sum(len(r.changes) for r in results)
        rejected = [c for r in results for c in r.rejected]
        console.print(f"{applied} evolutions applied, {len(rejected)} proposals rejected by the guards.", markup=False)
        change = pick_evolution(results, notes)
        if change is not None:
            target, trigger = notes[change.note_id], notes[change.trigger or ""]
            body = Text()
            body.append("note     ", style="dim")
            body.append(f"{render.who(target)}: {render.short(target.content, 100)}\n")
            body.append("trigger  ", style="dim")
            body.append(f"{render.who(trigger)}: {render.short(trigger.content, 100)}\n")
            body.append("version  ", style="dim")
            body.append(f"v{change.version_before} → v{change.version_after} (evolution diff, before → after)\n\n")
            body.append_text(render.diff_text(change))
            body.append("\n\nrationale ", style="dim")
            body.append(change.rationale)
            body.append(f"\nchange id {change.id}  (undo with: zettelmem --home {home} revert {change.id})",
                        style="dim")
            console.print(Panel(body, title="one evolution", title_align="left"))
        if rejected:
            console.print(f"e.g. {render.short(rejected[0].rationale, 160)}", markup=False, style="dim")

        console.print(Rule("search"))
        for q in QUERIES:
            hits = mem.search(q, scope, k=3)
            console.print(render.hits_table(hits, labels, f"search: {q}"))

        console.print(Rule("export"))
        out = home / "export"
        out.mkdir(exist_ok=True)
        graph = to_networkx(mem, scope)
        paths = {"html": out / "memory.html", "graphml": out / "memory.graphml", "json": out / "memory.json"}
        to_html(graph, paths["html"], title="zettelmem demo — Maya & Jonas")
        to_graphml(graph, paths["graphml"])
        to_node_link(graph, paths["json"])
        console.print(f"Exported {graph.number_of_nodes()} notes and {graph.number_of_edges()} links:", markup=False)
        for name, path in paths.items():
            console.print(f"  {name:8} {path}", markup=False)
    elapsed = time.perf_counter() - started
    console.print(Rule())
    console.print(f"Done in {elapsed:.1f} s. Explore further:", markup=False)
    console.print(f'  zettelmem --home {home} search "pottery"\n'
                  f"  zettelmem --home {home} show {change.note_id[:8] if change else '<id>'}\n"
                  f"  open {paths['html']}", markup=False)
    return {"home": home, "paths": paths, "change": change, "report": report}
