"""Versioned, immutable schema migrations for Neo4j.

Migrations are the numbered files ``graph_schema/neo4j/NNNN_what.cypher``
(shipped as ``zettelmem.graph_schema/neo4j``): idempotent DDL statements
separated by ``;``, ``//`` comments allowed. :func:`migrate` applies the ones a
database lacks, in order, and records each as ``(:ZmMigration {id, checksum,
applied_at})``; :func:`check_schema` only verifies. Both refuse, with
:class:`~zettelmem.errors.SchemaVersionError`, a database whose applied
migration was edited afterwards (checksum differs) or that holds a migration
this zettelmem does not know (written by a newer version).

Nothing here runs from a constructor: ``Neo4jGraphStore.setup()`` and
``zettelmem db migrate`` call :func:`migrate` explicitly.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from zettelmem.errors import SchemaVersionError

__all__ = ["Migration", "check_schema", "load_migrations", "migrate", "migrations_dir", "split_statements"]

_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.cypher$")
_HINT = "run `zettelmem db migrate` (or Neo4jGraphStore.setup()) first"


@dataclass(frozen=True, slots=True)
class Migration:
    id: str  # file stem, e.g. "0001_constraints"
    checksum: str  # sha256 of the text with normalised line endings
    statements: tuple[str, ...]


def migrations_dir() -> Any:
    """The packaged migrations folder, or the source tree's when not installed."""
    try:
        root = resources.files("zettelmem.graph_schema") / "neo4j"
        if root.is_dir():
            return root
    except ModuleNotFoundError:
        pass
    return Path(__file__).resolve().parents[3] / "graph_schema" / "neo4j"


def split_statements(text: str) -> tuple[str, ...]:
    """Statements of a migration file: ``//`` comment lines dropped, split on ``;``."""
    lines = [ln for ln in text.splitlines() if not ln.strip().startswith("//")]
    return tuple(s.strip() for s in "\n".join(lines).split(";") if s.strip())


def checksum(text: str) -> str:
    return hashlib.sha256(text.replace("\r\n", "\n").encode()).hexdigest()


def load_migrations(folder: Any = None) -> list[Migration]:
    """Every ``NNNN_*.cypher`` file of ``folder`` (default: the shipped ones), in order."""
    folder = migrations_dir() if folder is None else folder
    found = []
    for entry in folder.iterdir():
        if _NAME.match(entry.name):
            text = entry.read_text(encoding="utf-8")
            found.append(Migration(entry.name.removesuffix(".cypher"), checksum(text), split_statements(text)))
    found.sort(key=lambda m: m.id)
    numbers = [m.id[:4] for m in found]
    if len(set(numbers)) != len(numbers):
        raise SchemaVersionError(f"two migrations share a number in {folder}: {numbers}")
    if not found:
        raise SchemaVersionError(f"no migrations found in {folder}")
    return found


def _applied(session: Any) -> dict[str, str]:
    rows = session.execute_read(
        lambda tx: tx.run("MATCH (m:ZmMigration) RETURN m.id AS id, m.checksum AS checksum").data()
    )
    return {r["id"]: r["checksum"] for r in rows}


def _plan(applied: dict[str, str], known: list[Migration], where: str) -> list[Migration]:
    """Migrations still to apply; raise on edited or unknown applied ones."""
    by_id = {m.id: m for m in known}
    unknown = sorted(set(applied) - set(by_id))
    if unknown:
        raise SchemaVersionError(
            f"Neo4j database {where} has migrations this zettelmem does not know: {unknown} "
            "(written by a newer version?); upgrade zettelmem"
        )
    for mid, recorded in sorted(applied.items()):
        if by_id[mid].checksum != recorded:
            raise SchemaVersionError(
                f"migration {mid} was edited after it was applied to {where} "
                f"(checksum {recorded[:12]}… in the database, {by_id[mid].checksum[:12]}… on disk); "
                "applied migrations are immutable: restore the file and add a new numbered one"
            )
    return [m for m in known if m.id not in applied]


def check_schema(driver: Any, database: str | None = None, *, folder: Any = None) -> None:
    """Raise :class:`SchemaVersionError` unless every migration is applied, unedited."""
    known = load_migrations(folder)
    with driver.session(database=database) as session:
        pending = _plan(_applied(session), known, database or "(default)")
    if pending:
        raise SchemaVersionError(
            f"Neo4j database {database or '(default)'} lacks schema migrations "
            f"{[m.id for m in pending]}: {_HINT}"
        )


def migrate(driver: Any, database: str | None = None, *, folder: Any = None) -> list[str]:
    """Apply the missing migrations in order; return the ids applied (idempotent)."""
    known = load_migrations(folder)
    done: list[str] = []
    with driver.session(database=database) as session:
        pending = _plan(_applied(session), known, database or "(default)")
        for mig in pending:
            for stmt in mig.statements:  # schema and data cannot share a transaction
                session.run(stmt).consume()
            session.execute_write(
                lambda tx, m=mig: tx.run(
                    "MERGE (z:ZmMigration {id: $id}) "
                    "ON CREATE SET z.checksum = $checksum, z.applied_at = $now",
                    id=m.id, checksum=m.checksum, now=datetime.now(UTC),
                ).consume()
            )
            done.append(mig.id)
        if done:
            session.run("CALL db.awaitIndexes(300)").consume()
    return done
