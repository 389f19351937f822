"""The Neo4j GraphStore: a small executor over the pure compiler in ``cypher.py``.

One ``batch`` is one managed transaction (``execute_write`` when it holds a
write, else ``execute_read``): every op's statements run, and every op's result
is decoded, inside it, so a typed error from any op rolls back the whole batch.
The driver retries the transaction function on transient errors and lost
connections for ``retry_time`` seconds; after that the failure surfaces as
:class:`~zettelmem.errors.BackendUnavailable` naming the server.

The constructor only connects. The schema is applied by :meth:`setup` (or
``zettelmem db migrate``); the first ``batch`` checks it once and raises
:class:`~zettelmem.errors.SchemaVersionError` when migrations are missing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from zettelmem.config import Neo4jConfig
from zettelmem.errors import (
    BackendUnavailable,
    ConfigurationError,
    SchemaVersionError,
    StoreError,
    ZettelmemError,
)
from zettelmem.models import Note, Scope
from zettelmem.stores.base import GraphStore, Op
from zettelmem.stores.lexical import THREAD_RELATIONS
from zettelmem.stores.neo4j import cypher
from zettelmem.stores.neo4j.migrations import check_schema, migrate

__all__ = ["Neo4jGraphStore"]

T = TypeVar("T")
_SCHEMES = frozenset({"bolt", "bolt+s", "bolt+ssc", "neo4j", "neo4j+s", "neo4j+ssc"})


class Neo4jGraphStore(GraphStore):
    """Notes, links, changes and meta in a Neo4j 5 database.

    Args:
        config: server address, credentials, database and UNWIND batch size.
        retry_time: how long the driver retries a transaction that hit a
            transient error or a lost connection before giving up.
    """

    name = "neo4j"

    def __init__(self, config: Neo4jConfig, *, retry_time: float = 30.0) -> None:
        try:
            import neo4j
        except ImportError as exc:  # optional dependency
            raise ConfigurationError("the Neo4j backend needs `pip install zettelmem[neo4j]`") from exc
        scheme = config.uri.partition("://")[0]
        if scheme not in _SCHEMES:
            raise ConfigurationError(f"invalid Neo4j URI {config.uri!r}: use one of {', '.join(sorted(_SCHEMES))}://")
        self.config = config
        self.uri = config.uri
        self.database = config.database
        self._schema_ok = False
        self._schema_lock = threading.Lock()
        try:
            self._driver = neo4j.GraphDatabase.driver(
                config.uri,
                auth=(config.user, config.password.get_secret_value()),
                connection_timeout=config.connection_timeout,
                max_transaction_retry_time=retry_time,
                notifications_min_severity="OFF",
            )
        except (ValueError, neo4j.exceptions.ConfigurationError) as exc:
            raise ConfigurationError(f"invalid Neo4j URI {config.uri!r}: {exc}") from exc
        try:
            with self._errors("connect"):
                self._driver.verify_connectivity()
        except BaseException:
            self._driver.close()
            raise

    # -- errors ---------------------------------------------------------------------
    @contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        """Wrap driver exceptions into zettelmem's error tree, naming the server."""
        from neo4j import exceptions as nx

        where = f"Neo4j at {self.uri} (database {self.database!r})"
        try:
            yield
        except ZettelmemError:
            raise
        except nx.AuthError as exc:
            raise ConfigurationError(f"{where} rejected the credentials of user {self.config.user!r}: {exc}") from exc
        except nx.IncompleteCommit as exc:
            raise BackendUnavailable(
                f"{where}: the connection dropped during commit of {what}; the write may or may not "
                f"have landed (writes are idempotent upserts, so retrying is safe): {exc}"
            ) from exc
        except (nx.ServiceUnavailable, nx.SessionExpired, nx.ConnectionAcquisitionTimeoutError) as exc:
            raise BackendUnavailable(f"{where} is unavailable during {what}: {exc}") from exc
        except nx.Neo4jError as exc:
            if exc.code and "DatabaseNotFound" in exc.code:
                raise ConfigurationError(f"{where}: no such database: {exc}") from exc
            raise StoreError(f"{where} failed during {what}: {exc}") from exc
        except (nx.DriverError, OSError) as exc:
            raise BackendUnavailable(f"{where} failed during {what}: {exc}") from exc

    # -- lifecycle ------------------------------------------------------------------
    def setup(self) -> None:
        """Apply missing schema migrations (explicit; idempotent)."""
        self.migrate()

    def migrate(self) -> list[str]:
        """Like :meth:`setup`, returning the ids of the migrations it applied."""
        with self._errors("migrate"):
            applied = migrate(self._driver, self.database)
            self._backfill_text()
        self._schema_ok = True
        return applied

    def _backfill_text(self) -> None:
        """Give notes written before migration 0003 their full-text properties (idempotent)."""
        rows = self._transaction(lambda tx: tx.run(
            "MATCH (n:Note) WHERE n.text_scope IS NULL RETURN n.data AS data").data(),
            False, "full-text backfill")
        self._write_text([Note.model_validate_json(r["data"]) for r in rows])

    def _write_text(self, notes: Sequence[Note]) -> None:
        """Rewrite the full-text properties (and threads) of these notes, in batches."""
        size = self.config.batch_size
        for start in range(0, len(notes), size):
            props = [{"id": n.id, "props": {"content": n.content, "context": n.context, **cypher.text_props(n)}}
                     for n in notes[start : start + size]]

            def work(tx: Any, props: list[dict[str, Any]] = props) -> None:
                tx.run("UNWIND $rows AS row MATCH (n:Note {id: row.id}) SET n += row.props", rows=props).consume()
                tx.run(cypher.Q_THREAD_AFTER_PUT, ids=[p["id"] for p in props],
                       rels=list(THREAD_RELATIONS)).consume()

            self._transaction(work, True, "full-text rewrite")

    def check_text_index(self, scope: Scope | None = None, repair: bool = False) -> dict[str, list[str]]:
        """Notes whose indexed properties (``content``, ``context``, ``text_*``) disagree with the note.

        Lucene keeps the index itself in step with the properties, so there are no orphan rows;
        ``missing`` are notes without full-text properties (written before migration 0003).
        """
        self._ensure_schema()
        rows = self._transaction(lambda tx: tx.run(
            cypher.Q_TEXT_STATE, scope=None if scope is None else scope.key, rels=list(THREAD_RELATIONS)).data(),
            False, "full-text check")
        missing: list[str] = []
        stale: dict[str, Note] = {}
        for row in rows:
            note = Note.model_validate_json(row["data"])
            if row["text_scope"] is None:
                missing.append(note.id)
                stale[note.id] = note
                continue
            want = {"content": note.content, "context": note.context, **cypher.text_props(note),
                    "text_thread": "\n".join(row["texts"]) or None}
            if any(row[k] != v for k, v in want.items()):
                stale[note.id] = note
        if repair and stale:
            self._write_text(list(stale.values()))
        return {"missing": sorted(missing), "stale": sorted(set(stale) - set(missing)), "orphan": []}

    def check_schema(self) -> None:
        """Raise :class:`SchemaVersionError` unless the schema is fully migrated."""
        with self._errors("schema check"):
            check_schema(self._driver, self.database)
        self._schema_ok = True

    def _ensure_schema(self) -> None:
        if self._schema_ok:
            return
        with self._schema_lock:
            if not self._schema_ok:
                try:
                    self.check_schema()
                except SchemaVersionError as exc:
                    raise SchemaVersionError(f"{exc} (server {self.uri})") from exc

    def close(self) -> None:
        self._driver.close()

    # -- the primitive ----------------------------------------------------------------
    def batch(self, ops: Sequence[Op]) -> list[Any]:
        self._ensure_schema()
        size = self.config.batch_size
        plans = [(op, cypher.compile_op(op, size)) for op in ops]
        if not plans:
            return []

        def work(tx: Any) -> list[Any]:
            out = []
            for op, statements in plans:
                records = [tx.run(st.query, st.params).data() for st in statements]
                out.append(cypher.decode(op, records))
            return out

        write = any(cypher.is_write(op) for op in ops)
        return self._transaction(work, write, f"a batch of {len(ops)} op(s)")

    def _transaction(self, work: Callable[[Any], T], write: bool, what: str) -> T:
        with self._errors(what), self._driver.session(database=self.database) as session:
            return session.execute_write(work) if write else session.execute_read(work)

    def run_cypher(
        self, query: str, params: dict[str, Any] | None = None, *, write: bool = True
    ) -> list[dict[str, Any]]:
        """Run one parameterised statement in a managed transaction (tests, tools)."""
        return self._transaction(lambda tx: tx.run(query, params or {}).data(), write, "a statement")
