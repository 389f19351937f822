"""The ``zettelmem`` command line: add, ingest, search, inspect, evolve, export.

Global options (``--home``, ``--user``, ``--agent``, ``--namespace``,
``--offline``) go before or after the command (``zettelmem --home ./mem search
"lisbon"`` or ``zettelmem search "lisbon" --home ./mem``). Read commands
(search, list, show, history, stats, export) open the store read-only and refuse
a folder that holds no store. Exit codes: 0 success, 1 the operation failed, 2
the input was refused (see :mod:`zettelmem.cli._common`).

Start-up is kept light: the engine, exports and tables are imported inside the
commands that use them (``python -m bench.cli_startup`` measures it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from zettelmem.cli._common import (
    EXIT_FAILED,
    EXIT_REFUSED,
    State,
    console,
    err_console,
    fail,
    get_state,
    guard,
    parse_time,
    print_json,
    resolve_change,
    resolve_note,
)
from zettelmem.errors import InvalidInput
from zettelmem.models import MemoryType, Relation

__all__ = ["GLOBAL_OPTIONS", "app", "hoist_global_options", "main"]

#: Global options and whether each takes a value; accepted after the command too.
GLOBAL_OPTIONS: dict[str, bool] = {"--home": True, "--user": True, "--agent": True, "--namespace": True,
                                   "--offline": False}
_ROOT_FLAGS = {"--json", "--offline", "--version", "--help"}


def hoist_global_options(args: list[str], commands: set[str]) -> list[str]:
    """Move global options given after the command to before it (``--`` ends the scan).

    ``zettelmem search lisbon --home ./mem`` becomes ``zettelmem --home ./mem search lisbon``.
    """
    i = 0
    while i < len(args) and args[i].startswith("-") and args[i] != "--":  # options before the command
        name = args[i].split("=", 1)[0]
        i += 2 if GLOBAL_OPTIONS.get(name) and "=" not in args[i] else 1
    if i >= len(args) or args[i] not in commands:
        return args
    head, tail, moved = args[:i], [], []
    j = i
    while j < len(args):
        arg = args[j]
        if arg == "--":
            tail.extend(args[j:])
            break
        name = arg.split("=", 1)[0]
        if name in GLOBAL_OPTIONS:
            takes = GLOBAL_OPTIONS[name] and "=" not in arg
            moved.extend(args[j : j + (2 if takes else 1)])
            j += 2 if takes else 1
            continue
        tail.append(arg)
        j += 1
    return head + moved + tail


class _Group(TyperGroup):
    """The root group: accepts global options after the command as well."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        return super().parse_args(ctx, hoist_global_options(list(args), set(self.commands)))


app = typer.Typer(
    name="zettelmem",
    cls=_Group,
    help="An agentic Zettelkasten memory graph for LLM agents: notes, links, evolution, explainable search.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,
)


def _render() -> Any:
    from zettelmem.cli import _render as render

    return render


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            v = version("zettelmem")
        except PackageNotFoundError:  # a plain checkout on sys.path
            from zettelmem import __version__ as v
        typer.echo(f"zettelmem {v}")
        raise typer.Exit()

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]
FORMAT_BY_SUFFIX = {".graphml": "graphml", ".gexf": "gexf", ".json": "json", ".cyjs": "cytoscape",
                    ".mmd": "mermaid", ".mermaid": "mermaid", ".dot": "dot", ".gv": "dot",
                    ".html": "html", ".htm": "html"}


@app.callback()
def _root(
    ctx: typer.Context,
    home: Annotated[Path | None, typer.Option(
        "--home", help="Memory folder [default: $ZETTELMEM_HOME, else ~/.zettelmem]")] = None,
    user: Annotated[str, typer.Option("--user", help="Scope: user id.")] = "default",
    agent: Annotated[str, typer.Option("--agent", help="Scope: agent id.")] = "default",
    namespace: Annotated[str, typer.Option("--namespace", help="Scope: namespace.")] = "default",
    as_json: JsonOpt = False,
    offline: Annotated[bool, typer.Option(
        "--offline", help="Use the offline agents even if an LLM is configured.")] = False,
    version: Annotated[bool, typer.Option(
        "--version", callback=_version, is_eager=True, help="Print the version and exit.")] = False,
) -> None:
    from pydantic import ValidationError

    from zettelmem.models import Scope

    try:
        scope = Scope(user_id=user, agent_id=agent, namespace=namespace)
    except ValidationError as exc:
        raise fail(f"invalid scope: {exc.errors()[0]['msg']}", EXIT_REFUSED) from None
    ctx.obj = State(home=home, scope=scope, json=as_json, offline=offline)


@app.command()
@guard
def add(
    ctx: typer.Context,
    content: Annotated[str, typer.Argument(help="The memory text.")],
    speaker: Annotated[str | None, typer.Option(help="Who said it.")] = None,
    session: Annotated[str | None, typer.Option(help="Session id (links consecutive turns).")] = None,
    turn: Annotated[int | None, typer.Option(help="Turn number inside the session.")] = None,
    time: Annotated[str | None, typer.Option("--time", help="When it happened (ISO 8601).")] = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", help="A tag to add (repeatable).")] = None,
    memory_type: Annotated[MemoryType | None, typer.Option("--type", help="Memory type hint.")] = None,
    evolve: Annotated[bool, typer.Option("--evolve/--no-evolve", help="Let linked notes evolve.")] = True,
    as_json: JsonOpt = False,
) -> None:
    """Add one memory: build its note, link it, evolve its neighbours."""
    from zettelmem.cli._ingest import ingest_records
    from zettelmem.cli.jsonl import parse_record

    st = get_state(ctx)
    render = _render()
    line = {"content": content, "speaker": speaker, "session": session, "turn": turn, "time": time,
            "tags": tag or None, "memory_type": memory_type.value if memory_type else None, "source": "cli"}
    records = [parse_record({k: v for k, v in line.items() if v is not None}, "argument")]
    with st.memory() as mem:
        report = ingest_records(mem, records, st.scope, evolve=evolve, console=err_console, show_progress=False)
        result = report.results[0]
        note = mem.get(result.note.id, st.scope)
        if st.json or as_json:
            print_json({**result.model_dump(mode="json"), "note": note.model_dump(mode="json")})
            return
        labels = render.labels_for(mem, st.scope, [lk.target for lk in result.links]
                         + render.change_ids([*result.changes, *result.rejected]))
    console.print(render.note_panel(note))
    if result.links:
        console.print(render.links_table(result.links, labels, "links made", focus=note.id))
    if result.changes or result.rejected:
        console.print(render.changes_table([*result.changes, *result.rejected], labels, "evolution", show_note=True))


@app.command()
@guard
def ingest(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="JSONL file: one {\"content\": ...} object per line.")],
    batch_size: Annotated[int | None, typer.Option("--batch-size", min=1, help="Memories per batch.")] = None,
    evolve: Annotated[bool, typer.Option("--evolve/--no-evolve", help="Let linked notes evolve.")] = True,
    speaker_prefix: Annotated[bool, typer.Option(
        "--speaker-prefix", help="Store 'Speaker: text' so each memory says who spoke.")] = False,
    resume: Annotated[bool, typer.Option(
        "--resume", help="List the lines skipped because an earlier run stored them.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Ingest a JSONL file of memories, with a progress bar.

    Each line: {"content": ...} plus optional id, speaker, session, turn, time (ISO 8601),
    tags, metadata, memory_type, source. Every line is checked before anything is stored.
    Lines already stored (same id, else same file name and text) are skipped, so a rerun
    after an interruption adds only what is missing.
    """
    from zettelmem.cli._ingest import ingest_records
    from zettelmem.cli.jsonl import read_jsonl

    st = get_state(ctx)
    records = read_jsonl(file, speaker_prefix=speaker_prefix)  # every line is checked before any write
    if not records:
        raise InvalidInput(f"{file} holds no memories")
    with st.memory() as mem:
        report = ingest_records(mem, records, st.scope, batch_size=batch_size, evolve=evolve,
                                console=err_console, label=f"ingesting {file.name}")
    from zettelmem.cli._ingest import line_ranges

    s = report.summary()
    if resume:
        s["skipped_lines"] = {str(line): note_id for line, note_id in report.skipped.items()}
    if st.json or as_json:
        print_json(s)
        return
    console.print(f"Ingested [bold]{s['notes']}[/] memories into {st.scope}: {s['links']} links, "
                  f"{s['evolutions']} evolutions ({s['rejected']} proposals rejected), "
                  f"{s['tagged']} tagged, in {s['seconds']:.1f} s.")
    if report.skipped:
        lines = f": lines {line_ranges(list(report.skipped))}" if resume else " (--resume lists them)"
        console.print(f"Skipped {len(report.skipped)} lines stored by an earlier run{lines}.", markup=False)


@app.command()
@guard
def search(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(help="What to look for.")],
    k: Annotated[int, typer.Option("-k", "--limit", min=1, max=1000, help="How many hits.")] = 5,
    memory_type: Annotated[list[MemoryType] | None, typer.Option("--type", help="Only these types.")] = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", help="Only notes with any of these tags.")] = None,
    since: Annotated[str | None, typer.Option(help="Event time from (ISO 8601).")] = None,
    until: Annotated[str | None, typer.Option(help="Event time until (ISO 8601).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Hybrid search; every hit says why it was returned.

    Dense (cosine) and lexical (BM25) rankings are fused, then spread along links.
    """
    from zettelmem.filters import Filter

    st = get_state(ctx)
    render = _render()
    flt = Filter(memory_types=tuple(memory_type) if memory_type else None, tags_any=tuple(tag) if tag else None,
                 since=parse_time(since, "--since"), until=parse_time(until, "--until"))
    with st.memory(read=True) as mem:
        hits = mem.search(query, st.scope, k=k, where=None if flt.is_empty() else flt)
        if st.json or as_json:
            print_json([{**h.model_dump(mode="json"), "explain": h.explain()} for h in hits])
            return
        labels = render.labels_for(mem, st.scope, [r.via for h in hits for r in h.why if r.kind == "graph"])
    if not hits:
        console.print(f"No hits for {query!r} in {st.scope}.", markup=False)
        return
    console.print(render.hits_table(hits, labels, f"search: {query}"))


@app.command()
@guard
def show(
    ctx: typer.Context,
    note_id: Annotated[str, typer.Argument(help="Note id (or a unique prefix).")],
    as_of: Annotated[str | None, typer.Option("--as-of", help="Show the note as it was then (ISO 8601).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Show a note, its links and its versions."""
    st = get_state(ctx)
    render = _render()
    with st.memory(read=True) as mem:
        note = resolve_note(mem, st.scope, note_id)
        if as_of:
            note = mem.get(note.id, st.scope, as_of=parse_time(as_of, "--as-of"))
        links = mem.links(note.id, st.scope)
        changes = mem.history(note.id, st.scope)
        if st.json or as_json:
            print_json({"note": note, "links": links, "history": changes})
            return
        labels = render.labels_for(mem, st.scope, [lk.other(note.id) for lk in links] + render.change_ids(changes))
    console.print(render.note_panel(note))
    console.print(render.links_table(links, labels, f"links ({len(links)})", focus=note.id))
    applied = [c for c in changes if c.kind != "rejected"]
    console.print("versions: v1 (built) → " + " → ".join(f"v{c.version_after} ({c.kind})" for c in applied)
                  if applied else "versions: v1 only (never rewritten)", markup=False)
    if changes:
        console.print(render.changes_table(changes, labels, "history"))


@app.command("list")
@guard
def list_notes(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option("-n", "--limit", min=1, help="How many notes.")] = 20,
    offset: Annotated[int, typer.Option(min=0, help="Skip this many notes first.")] = 0,
    memory_type: Annotated[list[MemoryType] | None, typer.Option("--type", help="Only these types.")] = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", help="Only notes with any of these tags.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """List notes, oldest first (ids, who, type, content, keywords, tags)."""
    from zettelmem.filters import Filter

    st = get_state(ctx)
    render = _render()
    flt = Filter(memory_types=tuple(memory_type) if memory_type else None, tags_any=tuple(tag) if tag else None)
    with st.memory(read=True) as mem:
        notes = mem.list(st.scope, None if flt.is_empty() else flt, limit=limit, offset=offset)
        total = mem.aio.graph.count_all(st.scope).get("notes")  # the graph alone: no vector index opened
    if st.json or as_json:
        print_json(notes)
        return
    if not notes:
        console.print(f"No notes in {st.scope}" + (f" past {offset}." if offset else "."), markup=False)
        return
    shown = f"{offset + 1}–{offset + len(notes)}" + (f" of {total}" if isinstance(total, int) else "")
    console.print(render.notes_table(notes, f"notes {shown} in {st.scope}", max_labels=4))


@app.command()
@guard
def history(
    ctx: typer.Context,
    note_id: Annotated[str, typer.Argument(help="Note id (or a unique prefix).")],
    as_json: JsonOpt = False,
) -> None:
    """A note's changes: diff, rationale, trigger (rejected ones too)."""
    st = get_state(ctx)
    render = _render()
    with st.memory(read=True) as mem:
        note = resolve_note(mem, st.scope, note_id)
        changes = mem.history(note.id, st.scope)
        if st.json or as_json:
            print_json(changes)
            return
        labels = render.labels_for(mem, st.scope, render.change_ids(changes))
    if not changes:
        console.print(f"Note {note.id[:8]} has no changes (version {note.version}).")
        return
    console.print(render.changes_table(changes, labels, f"history of {labels.get(note.id, note.id)}"))


@app.command()
@guard
def revert(
    ctx: typer.Context,
    change_id: Annotated[str, typer.Argument(help="The change to undo (its id or a unique prefix).")],
    as_json: JsonOpt = False,
) -> None:
    """Undo one change (a new version restores the fields it rewrote)."""
    st = get_state(ctx)
    render = _render()
    with st.memory() as mem:
        change = mem.revert(resolve_change(mem, st.scope, change_id), st.scope)
        if st.json or as_json:
            print_json(change)
            return
        labels = render.labels_for(mem, st.scope, render.change_ids([change]))
    console.print(render.changes_table([change], labels, "revert", show_note=True))


@app.command()
@guard
def consolidate(
    ctx: typer.Context,
    note_ids: Annotated[list[str] | None, typer.Argument(help="Notes to place (default: every note).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Gather notes into topic notes (one per speaker and topic, across sessions)."""
    st = get_state(ctx)
    with st.memory() as mem:
        ids = [resolve_note(mem, st.scope, i).id for i in note_ids] if note_ids else None
        report = mem.consolidate(ids, st.scope)
    if st.json or as_json:
        print_json({"created": report.created, "extended": report.extended, "grouped": report.grouped,
                    "changes": [c.model_dump(mode="json") for c in report.changes], "demoted": report.demoted})
        return
    cold = f"; {len(report.demoted)} cold notes demoted" if report.demoted else ""
    console.print(f"{len(report.created)} topic notes created, {len(report.extended)} extended; "
                  f"{report.grouped} notes placed{cold}.", markup=False)


@app.command()
@guard
def evolve(
    ctx: typer.Context,
    note_ids: Annotated[list[str] | None, typer.Argument(help="Trigger notes (default: every note).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Run an evolution pass: notes refine the notes they link to."""
    st = get_state(ctx)
    render = _render()
    with st.memory() as mem:
        ids = [resolve_note(mem, st.scope, i).id for i in note_ids] if note_ids else None
        results = mem.evolve(ids, st.scope)
        changes = [c for r in results for c in (*r.changes, *r.rejected)]
        if st.json or as_json:
            print_json(changes)
            return
        labels = render.labels_for(mem, st.scope, render.change_ids(changes))
    applied = sum(c.kind == "evolve" for c in changes)
    console.print(f"{applied} notes evolved, {len(changes) - applied} proposals rejected.")
    if changes:
        console.print(render.changes_table(changes, labels, "evolution pass", show_note=True))


@app.command()
@guard
def link(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(help="Source note id (or prefix).")],
    target: Annotated[str, typer.Argument(help="Target note id (or prefix).")],
    relation: Annotated[Relation, typer.Option(help="Link type.")] = Relation.RELATES_TO,
    weight: Annotated[float, typer.Option(min=0.0, max=1.0, help="Strength 0..1.")] = 0.5,
    rationale: Annotated[str, typer.Option(help="Why they are linked.")] = "linked by the user",
    as_json: JsonOpt = False,
) -> None:
    """Link two notes (a user link, typed and weighted)."""
    st = get_state(ctx)
    with st.memory() as mem:
        src, dst = resolve_note(mem, st.scope, source), resolve_note(mem, st.scope, target)
        lk = mem.link(src.id, dst.id, st.scope, relation=relation, weight=weight, rationale=rationale)
    if st.json or as_json:
        print_json(lk)
        return
    console.print(f"Linked {src.id[:8]} -[{lk.relation.value} {lk.weight:.2f}]-> {dst.id[:8]}", markup=False)


@app.command()
@guard
def unlink(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(help="Source note id (or prefix).")],
    target: Annotated[str, typer.Argument(help="Target note id (or prefix).")],
    relation: Annotated[Relation | None, typer.Option(help="Only this relation (default: all).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Remove the link(s) from SOURCE to TARGET."""
    st = get_state(ctx)
    with st.memory() as mem:
        src, dst = resolve_note(mem, st.scope, source), resolve_note(mem, st.scope, target)
        n = mem.unlink(src.id, dst.id, st.scope, relation=relation)
    if st.json or as_json:
        print_json({"removed": n})
        return
    console.print(f"Removed {n} link(s) {src.id[:8]} -> {dst.id[:8]}.")


@app.command()
@guard
def delete(
    ctx: typer.Context,
    note_ids: Annotated[list[str], typer.Argument(help="Notes to delete (ids or prefixes).")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Delete notes with their links and history."""
    st = get_state(ctx)
    with st.memory() as mem:
        ids = [resolve_note(mem, st.scope, i).id for i in note_ids]
        if not yes and not typer.confirm(f"Delete {len(ids)} note(s) from {st.scope}?", default=False):
            raise fail("nothing deleted", EXIT_FAILED)
        n = mem.delete(ids, st.scope)
    if st.json or as_json:
        print_json({"deleted": n, "ids": ids})
        return
    console.print(f"Deleted {n} note(s).")


@app.command()
@guard
def forget(
    ctx: typer.Context,
    note_ids: Annotated[list[str] | None, typer.Argument(help="Notes to forget (ids or prefixes).")] = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", help="Or: every note with any of these tags.")] = None,
    memory_type: Annotated[list[MemoryType] | None, typer.Option("--type", help="Or: every note of these types.")] = None,
    hard: Annotated[bool, typer.Option("--hard", help="Erase for good (content, vectors, history quotes).")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Forget notes: soft (hidden from search, kept for history) or --hard (erased from every store)."""
    from zettelmem.filters import Filter

    st = get_state(ctx)
    flt = Filter(tags_any=tuple(tag) if tag else None, memory_types=tuple(memory_type) if memory_type else None)
    if bool(note_ids) == (not flt.is_empty()):
        raise fail("give note ids or a filter (--tag/--type), not both and not neither", EXIT_REFUSED)
    with st.memory() as mem:
        ids = [resolve_note(mem, st.scope, i).id for i in note_ids] if note_ids else None
        what = f"{len(ids)} note(s)" if ids else "every note matching the filter"
        how = "Erase" if hard else "Forget"
        if not yes and not typer.confirm(f"{how} {what} in {st.scope}?", default=False):
            raise fail("nothing forgotten", EXIT_FAILED)
        report = mem.forget(ids, st.scope, where=None if ids else flt, hard=hard)
    if st.json or as_json:
        print_json(report.model_dump(mode="json"))
        return
    console.print(report.message, markup=False)


@app.command()
@guard
def export(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to write (a file).")],
    fmt: Annotated[str | None, typer.Option(
        "--format", "-f", help="graphml|gexf|json|cytoscape|mermaid|dot|html [default: from --out]")] = None,
    note: Annotated[list[str] | None, typer.Option("--note", help="Only around these notes (repeatable).")] = None,
    depth: Annotated[int, typer.Option(min=0, max=10, help="Links to follow from --note.")] = 1,
    as_json: JsonOpt = False,
) -> None:
    """Export the graph: graphml, gexf, json, cytoscape, mermaid, dot, html.

    The whole scope, or the notes within --depth links of --note.
    """
    from zettelmem.export import FORMATS, to_networkx
    from zettelmem.export import export as write

    st = get_state(ctx)
    fmt = (fmt or FORMAT_BY_SUFFIX.get(out.suffix.lower(), "")).lower()
    if fmt not in FORMATS:
        raise InvalidInput(f"choose --format: one of {', '.join(FORMATS)}")
    with st.memory(read=True) as mem:
        ids = [resolve_note(mem, st.scope, i).id for i in note] if note else None
        graph = to_networkx(mem, st.scope, note_ids=ids, depth=depth)
    write(graph, fmt, out)
    info = {"format": fmt, "path": str(out.resolve()), "nodes": graph.number_of_nodes(),
            "edges": graph.number_of_edges()}
    if st.json or as_json:
        print_json(info)
        return
    console.print(f"Wrote {fmt} ({info['nodes']} notes, {info['edges']} links) to {info['path']}", markup=False)


@app.command()
@guard
def stats(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Counts, backends and LLM calls/tokens."""
    st = get_state(ctx)
    render = _render()
    with st.memory(read=True) as mem:
        data = {"scope": str(st.scope), "home": str(st.resolved_home()), **mem.stats(st.scope)}
    if st.json or as_json:
        print_json(data)
        return
    console.print(render.stats_table(data))


@app.command()
@guard
def check(
    ctx: typer.Context,
    repair: Annotated[bool, typer.Option(
        "--repair", help="Fix what disagrees; an embedded store is salvaged first (unreadable records "
                         "are moved to a quarantine table).")] = False,
    only_scope: Annotated[bool, typer.Option(
        "--scope", help="Only the scope given by --user/--agent/--namespace.")] = False,
    force: Annotated[bool, typer.Option(
        "--force", help="Let --repair delete more orphan vectors than there are notes.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Check that graph and vectors agree (exit 1 if not).

    Without --scope: every scope of an embedded store, or on a Neo4j server only the
    scopes this home holds vectors of (never another memory's data).
    """
    from zettelmem.config import NetworkXConfig

    st = get_state(ctx)
    salvaged = None
    settings = st.settings()
    if repair and isinstance(settings.graph, NetworkXConfig):
        from zettelmem.stores.salvage import salvage

        salvaged = salvage(settings.graph_path())
    with st.memory() as mem:
        report = mem.check(repair=repair, scope=st.scope if only_scope else None, force=force)
    moved = salvaged.quarantined if salvaged is not None else []
    if st.json or as_json:
        print_json({**report.model_dump(mode="json"), "ok": report.ok,
                    "quarantined": [vars(q) for q in moved]})
    else:
        console.print(f"scopes {report.scopes}, notes {report.notes}, vectors {report.vectors}; "
                      f"missing {len(report.missing_vectors)}, orphan {len(report.orphan_vectors)}, "
                      f"stale {len(report.stale_vectors)}; full-text rows missing {len(report.missing_text)}, "
                      f"stale {len(report.stale_text)}, orphan {len(report.orphan_text)}; "
                      f"repaired {report.repaired}", markup=False)
        for q in moved:
            console.print(f"quarantined {q.kind} {q.key}: {q.reason}", markup=False)
        if report.interrupted_migration:
            console.print(f"an interrupted migrate wrote into this store ({report.interrupted_migration}); "
                          "run the same `zettelmem migrate` again to finish it", markup=False)
        console.print("[green]ok[/]" if report.ok else "[yellow]problems found[/]" +
                      ("" if repair else " (run with --repair)"))
    if not report.ok and not (repair and report.repaired and report.interrupted_migration is None):
        raise typer.Exit(EXIT_FAILED)


@app.command()
@guard
def demo(
    ctx: typer.Context,
    home: Annotated[Path | None, typer.Option(
        "--home", help="An empty or new folder [default: a fresh temporary folder].")] = None,
    llm: Annotated[bool, typer.Option(
        "--llm", help="Require the configured LLM (default: the LLM agents when ZETTELMEM_LLM_* configures one, "
                      "else offline; --offline forces offline).")] = False,
    turns: Annotated[int | None, typer.Option(
        "--turns", min=1, help="Only the first N turns of the dialogue (a quick look with a slow local model).")] = None,
) -> None:
    """Run the whole loop on the bundled dialogue (offline unless an LLM is configured).

    Shows the notes built, links made, one evolution with its diff, searches with
    explanations, and writes an HTML viewer, GraphML and JSON export.
    """
    from zettelmem.cli._demo import run_demo

    st = get_state(ctx)
    run_demo(st, home or st.home, use_llm=True if llm else None, turns=turns)


@app.command("mcp")
@guard
def mcp_server(
    ctx: typer.Context,
    transport: Annotated[str, typer.Option("--transport", help="stdio (default) or http (streamable HTTP).")] = "stdio",
    host: Annotated[str, typer.Option(help="HTTP: address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="HTTP: port.")] = 8765,
    user: Annotated[str | None, typer.Option("--user", help="Scope: user id (default: the global --user).")] = None,
    agent: Annotated[str | None, typer.Option("--agent", help="Scope: agent id.")] = None,
    namespace: Annotated[str | None, typer.Option("--namespace", help="Scope: namespace.")] = None,
    tokens: Annotated[Path | None, typer.Option(
        "--tokens", help="HTTP: JSON file of bearer tokens, each bound to a scope.")] = None,
    no_auth: Annotated[bool, typer.Option(
        "--no-auth", help="HTTP without tokens (loopback addresses only; every caller gets the bound scope).")] = False,
) -> None:
    """Serve this memory over MCP (the reference memory tools plus zettelmem's verbs)."""
    from pydantic import ValidationError

    from zettelmem.models import Scope

    try:
        import anyio

        from zettelmem.mcp import ServerConfig, serve
    except ImportError:
        raise fail("the MCP server needs the mcp extra: pip install 'zettelmem[mcp]'", EXIT_FAILED) from None
    if transport not in ("stdio", "http"):
        raise InvalidInput(f"--transport must be stdio or http, not {transport!r}")
    st = get_state(ctx)
    try:
        scope = Scope(user_id=user or st.scope.user_id, agent_id=agent or st.scope.agent_id,
                      namespace=namespace or st.scope.namespace)
    except ValidationError as exc:
        raise fail(f"invalid scope: {exc.errors()[0]['msg']}", EXIT_REFUSED) from None
    config = ServerConfig(transport="http" if transport == "http" else "stdio", host=host, port=port, scope=scope,
                          tokens=tokens, no_auth=no_auth)
    anyio.run(serve, st.settings(), config)


from zettelmem.cli._db import db_app, migrate  # noqa: E402  (registered after the core commands)

app.add_typer(db_app, name="db")
app.command("migrate")(migrate)


def main() -> None:
    """Console-script entry point (``zettelmem`` and ``python -m zettelmem``)."""
    app(prog_name="zettelmem")
