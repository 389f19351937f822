"""``zettelmem db migrate`` (Neo4j schema) and ``zettelmem migrate`` (copy a store)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from zettelmem.cli._common import EXIT_FAILED, console, fail, get_state, guard, print_json

if TYPE_CHECKING:
    from zettelmem.config import ChromaLocalConfig, ChromaServerConfig

__all__ = ["db_app", "migrate"]

db_app = typer.Typer(help="Schema of the configured graph backend.", no_args_is_help=True)


@db_app.command("migrate")
@guard
def db_migrate(ctx: typer.Context) -> None:
    """Apply the numbered Cypher migrations in graph_schema/neo4j/ (idempotent, checksummed).

    The backend comes from the settings (ZETTELMEM_GRAPH__BACKEND=neo4j,
    ZETTELMEM_GRAPH__URI, ZETTELMEM_GRAPH__PASSWORD, ...). The embedded NetworkX
    store has no schema to migrate.
    """
    from zettelmem.config import Neo4jConfig

    st = get_state(ctx)
    settings = st.settings()
    if not isinstance(settings.graph, Neo4jConfig):
        console.print("The embedded NetworkX store needs no migrations "
                      "(set ZETTELMEM_GRAPH__BACKEND=neo4j to migrate a Neo4j database).")
        return
    from zettelmem.stores.neo4j import Neo4jGraphStore

    store = Neo4jGraphStore(settings.graph)
    try:
        applied = store.migrate()
    finally:
        store.close()
    if st.json:
        print_json({"uri": settings.graph.uri, "applied": applied})
    else:
        console.print(f"{settings.graph.uri}: applied {len(applied)} migration(s) "
                      f"{', '.join(applied) if applied else '(schema already current)'}")


@guard
def migrate(
    ctx: typer.Context,
    neo4j_uri: Annotated[str, typer.Option("--neo4j-uri", help="Target Neo4j (bolt://, neo4j://, neo4j+s://).")],
    neo4j_password: Annotated[str, typer.Option("--neo4j-password", envvar="NEO4J_PASSWORD")] = "",
    neo4j_user: Annotated[str, typer.Option("--neo4j-user", envvar="NEO4J_USER")] = "neo4j",
    chroma_host: Annotated[str | None, typer.Option("--chroma-host", help="Target Chroma server host.")] = None,
    chroma_port: Annotated[int, typer.Option("--chroma-port")] = 8000,
    vectors_dir: Annotated[Path | None, typer.Option(
        "--vectors-dir", help="Target Chroma folder, when no Chroma server is given.")] = None,
    sample: Annotated[int, typer.Option("--sample", help="Notes compared field by field afterwards.")] = 50,
) -> None:
    """Copy the whole embedded store (every scope) into Neo4j + Chroma and verify it; safe to rerun."""
    from pydantic import SecretStr
    from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

    from zettelmem.config import ChromaLocalConfig, ChromaServerConfig, Neo4jConfig
    from zettelmem.migrate import migrate_store

    st = get_state(ctx)
    source = st.settings()
    if chroma_host:
        vectors: ChromaLocalConfig | ChromaServerConfig = ChromaServerConfig(host=chroma_host, port=chroma_port)
    else:
        vectors = ChromaLocalConfig(path=vectors_dir or source.home / "chroma-neo4j")
    target = source.model_copy(update={
        "graph": Neo4jConfig(uri=neo4j_uri, user=neo4j_user, password=SecretStr(neo4j_password)),
        "vectors": vectors,
    })
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), console=console, transient=True, disable=st.json) as bar:
        tasks: dict[str, TaskID] = {}

        def tell(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        report = migrate_store(source, target, progress=tell, sample=sample)
    if st.json:
        print_json(report.model_dump() | {"ok": report.ok})
    else:
        console.print(f"copied {report.scopes} scope(s): {report.notes} notes, {report.links} links, "
                      f"{report.changes} changes, {report.vectors} vectors in {report.seconds:.1f} s; "
                      f"verified {report.sampled} sampled notes")
    if not report.ok:
        raise fail("verification found differences: " + "; ".join(report.mismatches[:5]), EXIT_FAILED)
