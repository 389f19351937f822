"""ZettelStore: a durable LangGraph ``BaseStore`` that can grow a memory graph.

Items live in ``<home>/langgraph.sqlite`` (see :mod:`zettelmem.langgraph._sqlite`),
beside the memory graph's own files, and follow LangGraph's store contract exactly
as upstream's own test suites check it: ``get``/``put``/``delete``, ``search`` with
filters (``$eq $ne $gt $gte $lt $lte``), ``offset``/``limit`` and semantic search
(cosine similarity with the configured ``embed`` — or ``distance_type``
``"inner_product"``/``"l2"`` as PostgresStore scores them —, ``fields`` paths,
per-put ``index`` lists and ``index=False``), ``list_namespaces`` with prefix/suffix/wildcards/
``max_depth``. A batch is validated whole (``validate_op_namespace``) before any op
runs; its reads see the state before its writes, and its writes are one transaction.

With ``notes=True`` (the default when a :class:`~zettelmem.Memory` is given) every
indexed item also becomes a zettelmem note in the scope of its namespace, so the
memory graph links and evolves it, and :meth:`ZettelStore.search_notes` explains
why a note matched. The BaseStore API never depends on the notes: its results and
scores are the store's own.

Example:
    >>> store = ZettelStore("./mem", index={"dims": 384, "embed": embeddings})  # doctest: +SKIP
    >>> graph = builder.compile(store=store)                                      # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from langgraph.store.base import (
    BaseStore,
    GetOp,
    IndexConfig,
    Item,
    ListNamespacesOp,
    Op,
    PutOp,
    Result,
    SearchItem,
    SearchOp,
    ensure_embeddings,
)

from zettelmem.errors import ConfigurationError, InvalidInput, NoteNotFound
from zettelmem.langgraph._codec import check_ops, decode_ns, encode_ns, namespace_scope
from zettelmem.langgraph._match import DISTANCES, matches_conditions, similarity_scores, value_filter
from zettelmem.langgraph._notes import NoteSync, ZettelEmbeddings, texts_at
from zettelmem.langgraph._sqlite import ItemDB, Row, WriteOp
from zettelmem.models import Note, Scope

if TYPE_CHECKING:
    import sqlite3

    from zettelmem.engine.results import SearchHit
    from zettelmem.engine.sync import Memory

__all__ = ["ZettelStore"]

DB_NAME = "langgraph.sqlite"
log = logging.getLogger(__name__)


def _dumps(value: Mapping[str, Any]) -> str:
    try:
        text = json.dumps(dict(value), ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"store values must be JSON-serializable: {exc}") from exc
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: keep them as JSON escapes
        text = json.dumps(dict(value))
    return text


class _Plan:
    """What a batch needs before it touches the database: puts deduplicated, texts to embed."""

    def __init__(self, store: ZettelStore, ops: Sequence[Op]) -> None:
        puts: dict[tuple[tuple[str, ...], str], PutOp] = {}
        self.queries: list[str] = []
        self.vector_search = False
        for op in ops:
            if isinstance(op, PutOp):
                puts[(op.namespace, op.key)] = op  # first position, last value (as InMemoryStore)
            elif isinstance(op, SearchOp) and op.query and store.embeddings is not None:
                self.vector_search = True
                if op.query not in self.queries:
                    self.queries.append(op.query)
        self.puts = list(puts.values())
        self.values = [None if op.value is None else _dumps(op.value) for op in self.puts]
        # text -> [(put position, vector path)], embedded once per distinct text
        self.texts: dict[str, list[tuple[int, str]]] = {}
        if store.embeddings is None:
            return
        for i, op in enumerate(self.puts):
            if op.value is None or op.index is False:
                continue
            paths = store.fields if op.index is None else [str(p) for p in op.index]
            for path in paths:
                found = texts_at(op.value, path)
                for j, text in enumerate(found):
                    self.texts.setdefault(text, []).append((i, f"{path}.{j}" if len(found) > 1 else path))

    def writes(self, vectors: Sequence[Sequence[float]], dims: int | None) -> list[WriteOp]:
        if len(vectors) != len(self.texts):
            raise ConfigurationError(f"embed returned {len(vectors)} vectors for {len(self.texts)} texts")
        per_put: dict[int, list[tuple[str, bytes]]] = {}
        for vec, uses in zip(vectors, self.texts.values(), strict=True):
            arr = np.asarray(vec, dtype=np.float32)
            if arr.ndim != 1 or (dims is not None and arr.shape[0] != dims):
                raise ConfigurationError(f"embed returned a vector of shape {arr.shape}; the index has dims={dims}")
            for i, path in uses:
                per_put.setdefault(i, []).append((path, arr.tobytes()))
        out = []
        for i, op in enumerate(self.puts):
            idx = None if op.index is None else "false" if op.index is False else json.dumps([str(p) for p in op.index])
            out.append(WriteOp(encode_ns(op.namespace), op.key, self.values[i], idx, tuple(per_put.get(i, ()))))
        return out


class ZettelStore(BaseStore):
    """A persistent LangGraph store in a zettelmem home folder.

    Args:
        path: the memory home folder (items go to ``<path>/langgraph.sqlite``).
            Default: the home of ``memory``, else ``Settings().home``.
        memory: a :class:`~zettelmem.Memory` whose home the store shares and in which
            notes are built (opened lazily from ``path`` when notes are on and none is given).
        index: LangGraph's ``IndexConfig`` (``dims``, ``embed``, ``fields``, optional
            ``distance_type``: ``"cosine"`` (default), ``"inner_product"``, ``"l2"``). Without
            ``embed`` and with a ``memory``, the memory's own embedder is used.
        notes: build a zettelmem note for every indexed item (default: on iff ``memory`` is given).
    """

    supports_ttl = False

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        memory: Memory | None = None,
        index: IndexConfig | None = None,
        notes: bool | None = None,
    ) -> None:
        if memory is not None and path is not None and Path(path).resolve() != Path(memory.settings.home).resolve():
            raise ConfigurationError(f"path {path} is not the memory's home {memory.settings.home}")
        if path is None:
            from zettelmem.config import Settings

            path = memory.settings.home if memory is not None else Settings().home
        self.home = Path(path)
        self._memory = memory
        self._owns_memory = False
        self.notes = (memory is not None) if notes is None else bool(notes)
        self.index_config: IndexConfig | None = None
        self.embeddings: Any = None
        self.fields: list[str] = []
        self.distance = "cosine"
        if index:
            cfg: dict[str, Any] = dict(index)
            if cfg.get("embed") is None:
                if memory is None:
                    raise ConfigurationError("index needs 'embed' (or pass memory= to use its embedder)")
                cfg["embed"] = ZettelEmbeddings(memory.aio.embedder)
                cfg.setdefault("dims", memory.aio.embedder.dims)
            self.index_config = cfg  # type: ignore[assignment]
            self.embeddings = ensure_embeddings(cfg["embed"])
            self.fields = [str(f) for f in (cfg.get("fields") or ["$"])]
            self.distance = str(cfg.get("distance_type") or "cosine")
            if self.distance not in DISTANCES:
                raise ConfigurationError(f"distance_type must be one of {DISTANCES}, not {self.distance!r}")
        self.db = ItemDB(self.home / DB_NAME)
        try:
            self._check_dims()
            self._sync = NoteSync(self.db, lambda: self.memory, lambda: self.fields or ["$"]) if self.notes else None
            if self._sync is not None and self._sync.pending():
                self._sync.drain()  # finish what a crash interrupted
        except BaseException:
            self.close()
            raise

    # -- lifecycle --------------------------------------------------------------------------
    @property
    def memory(self) -> Memory:
        """The memory graph of this store's home (opened on first use if none was given)."""
        if self._memory is None:
            from zettelmem.config import Settings
            from zettelmem.engine.sync import Memory

            self._memory = Memory(Settings(home=self.home))
            self._owns_memory = True
        return self._memory

    def close(self) -> None:
        """Close the database (and the memory, if the store opened it)."""
        if hasattr(self, "db"):
            self.db.close()
        if self._owns_memory and self._memory is not None:
            self._memory.close()
            self._memory, self._owns_memory = None, False

    def __enter__(self) -> ZettelStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _dims(self) -> int | None:
        dims = self.index_config.get("dims") if self.index_config else None
        return int(dims) if dims else None

    def _check_dims(self) -> None:
        dims = self._dims()
        recorded = self.db.get_meta("index_dims")
        if dims is None or recorded == str(dims):
            return
        if recorded is not None:
            log.warning("%s holds %s-dim vectors, the index has dims=%s: those items search as unindexed "
                        "until reindex()", self.db.path, recorded, dims)
        else:
            self.db.put_meta("index_dims", str(dims))

    # -- the BaseStore primitives -------------------------------------------------------------
    def batch(self, ops: Iterable[Op]) -> list[Result]:
        checked = check_ops(ops)
        plan = _Plan(self, checked)
        qvecs = {q: self.embeddings.embed_query(q) for q in plan.queries}
        dvecs = self.embeddings.embed_documents(list(plan.texts)) if plan.texts else []
        results = self._run(checked, plan.writes(dvecs, self._dims()), qvecs)
        if plan.puts and self._sync is not None:
            self._sync.drain()
        return results

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        checked = check_ops(ops)
        plan = _Plan(self, checked)
        qvecs: dict[str, Any] = {}
        if plan.queries:
            found = await asyncio.gather(*(self.embeddings.aembed_query(q) for q in plan.queries))
            qvecs = dict(zip(plan.queries, found, strict=True))
        dvecs = await self.embeddings.aembed_documents(list(plan.texts)) if plan.texts else []
        writes = plan.writes(dvecs, self._dims())
        if plan.vector_search:  # scoring scans vectors: keep it off the event loop
            results = await asyncio.to_thread(self._run, checked, writes, qvecs)
        else:  # short SQLite statements: inline, as LangGraph's own stores do
            results = self._run(checked, writes, qvecs)
        if plan.puts and self._sync is not None:
            await asyncio.to_thread(self._sync.drain)
        return results

    def _run(self, ops: Sequence[Op], writes: Sequence[WriteOp], qvecs: Mapping[str, Any]) -> list[Result]:
        reads = sum(not isinstance(op, PutOp) for op in ops)
        results: list[Result] = [None] * len(ops)
        with self.db.session(write=bool(writes), snapshot=reads > 1) as c:
            for i, op in enumerate(ops):
                if isinstance(op, GetOp):
                    row = ItemDB.get(c, encode_ns(op.namespace), op.key)
                    results[i] = None if row is None else _item(row, json.loads(row.value))
                elif isinstance(op, SearchOp):
                    results[i] = self._search(c, op, qvecs.get(op.query) if op.query else None)
                elif isinstance(op, ListNamespacesOp):
                    results[i] = self._list_namespaces(c, op)
            self.db.apply(c, writes, outbox=self._sync is not None)
        return results

    def _search(self, c: sqlite3.Connection, op: SearchOp, qvec: Any) -> list[SearchItem]:
        prefix, offset, limit = op.namespace_prefix, op.offset, op.limit
        keep = value_filter(op.filter)
        if qvec is None:
            if not op.filter and min(offset, limit) >= 0:
                return [_search_item(r, json.loads(r.value)) for r in ItemDB.scan(c, prefix, limit, offset)]
            stop = offset + limit if min(offset, limit) >= 0 else None
            found: list[tuple[Row, Any]] = []
            for row in ItemDB.scan(c, prefix):
                value = json.loads(row.value)
                if keep(value):
                    found.append((row, value))
                    if len(found) == stop:
                        break
            return [_search_item(r, v) for r, v in found[offset : offset + limit]]
        if op.filter:
            cands = [(r, v) for r in ItemDB.scan(c, prefix) if keep(v := json.loads(r.value))]
        else:  # values are parsed only for the returned page
            cands = [(r, None) for r in ItemDB.scan(c, prefix)]
        stored = ItemDB.vectors(c, prefix)
        width = len(qvec) * 4
        rows_of: list[int] = []
        blobs: list[bytes] = []
        scoreless: list[int] = []
        for i, (row, _v) in enumerate(cands):
            vecs = [b for b in stored.get((row.ns, row.key), ()) if len(b) == width]
            rows_of += [i] * len(vecs)
            blobs += vecs
            if not vecs:
                scoreless.append(i)
        matrix = np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(blobs), len(qvec))
        best: dict[int, float] = {}
        for i, score in zip(rows_of, similarity_scores(qvec, matrix, self.distance).tolist(), strict=True):
            if i not in best or score > best[i]:
                best[i] = score  # an item scores its best vector (max pooling)
        ranked: list[tuple[float | None, int]] = [
            (s, i) for i, s in sorted(best.items(), key=lambda p: -p[1])  # stable: ties stay newest first
        ]
        ranked += [(None, i) for i in scoreless]  # unscored items after the scored ones, as InMemoryStore
        page = ranked[offset : offset + limit]
        return [_search_item(cands[i][0], cands[i][1] or json.loads(cands[i][0].value), s) for s, i in page]

    def _list_namespaces(self, c: sqlite3.Connection, op: ListNamespacesOp) -> list[tuple[str, ...]]:
        conds = list(op.match_conditions or ())
        literal: tuple[str, ...] = ()
        for cond in conds:  # narrow the scan by the longest wildcard-free start of a prefix
            if cond.match_type == "prefix":
                head = tuple(cond.path[: cond.path.index("*")] if "*" in cond.path else cond.path)
                literal = head if len(head) > len(literal) else literal
        names = [n for n in map(decode_ns, ItemDB.namespaces(c, literal)) if matches_conditions(n, conds)]
        out = sorted({n[: op.max_depth] for n in names}) if op.max_depth is not None else sorted(names)
        return out[op.offset : op.offset + op.limit]

    # -- zettelmem extras ---------------------------------------------------------------------
    @staticmethod
    def scope_for(namespace: Sequence[str]) -> Scope:
        """The zettelmem scope holding the notes of a namespace (see ``_codec``)."""
        return namespace_scope(tuple(namespace))

    def search_notes(self, namespace: Sequence[str], query: str, *, k: int = 10) -> list[SearchHit]:
        """zettelmem's hybrid search over the notes of one namespace; every hit says why."""
        hits: list[SearchHit] = self.memory.search(query, self.scope_for(namespace), k=k)
        return hits

    def note_for(self, namespace: Sequence[str], key: str) -> Note | None:
        """The note built from an item, if any."""
        with self.db.session(write=False, snapshot=False) as c:
            r = c.execute("SELECT note_id FROM notes WHERE ns = ? AND key = ?",
                          (encode_ns(tuple(namespace)), str(key))).fetchone()
        if r is None:
            return None
        try:
            note: Note = self.memory.get(r[0], self.scope_for(namespace))
        except NoteNotFound:
            return None
        return note

    def sync_notes(self, *, rebuild: bool = False) -> int:
        """Build pending notes now (``rebuild``: revisit every item); returns notes built."""
        sync = self._sync or NoteSync(self.db, lambda: self.memory, lambda: self.fields or ["$"])
        if rebuild:
            sync.enqueue_all()
        return sync.drain()

    def reindex(self) -> int:
        """Re-embed every item with the current ``index`` (after changing the embedding model).

        Only vectors change: values, timestamps and the listing order stay as they are.
        """
        if self.embeddings is None:
            raise ConfigurationError("reindex needs an index config with 'embed'")
        with self.db.session(write=False) as c:
            rows = list(ItemDB.scan(c, ()))
        for start in range(0, len(rows), 256):
            ops: list[Op] = []
            for r in rows[start : start + 256]:
                idx: Literal[False] | list[str] | None = None
                if r.idx is not None:
                    idx = False if r.idx == "false" else [str(p) for p in json.loads(r.idx)]
                ops.append(PutOp(decode_ns(r.ns), r.key, json.loads(r.value), idx))
            plan = _Plan(self, ops)
            writes = plan.writes(self.embeddings.embed_documents(list(plan.texts)) if plan.texts else [], self._dims())
            with self.db.session(write=True) as c:
                ItemDB.replace_vectors(c, writes)
        if self._dims() is not None:
            self.db.put_meta("index_dims", str(self._dims()))
        return len(rows)


def _item(row: Row, value: dict[str, Any]) -> Item:
    return Item(value=value, key=row.key, namespace=decode_ns(row.ns),
                created_at=datetime.fromisoformat(row.created_at), updated_at=datetime.fromisoformat(row.updated_at))


def _search_item(row: Row, value: dict[str, Any], score: float | None = None) -> SearchItem:
    return SearchItem(decode_ns(row.ns), row.key, value, datetime.fromisoformat(row.created_at),
                      datetime.fromisoformat(row.updated_at), score)
