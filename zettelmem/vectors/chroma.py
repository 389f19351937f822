"""Chroma as the VectorIndex: one collection per scope, in a local folder or on a server.

Layout. A memory's vectors are named by its ``collection`` setting (the *index
name*). Each scope has its own collection, named ``<index>-<hash>`` by
:func:`collection_name` (a 128-bit blake2b of index name and scope key), so a
query is a plain HNSW search over one scope, with no metadata filter scan; tag,
type and time filters still pre-filter inside the scope's collection. A small
*registry* collection of the index records the embedding model and one record
per scope that has a collection. Every collection's metadata records its index
name, scope key, model and dimension, checked when it is opened: a hash
collision, another memory's collection or another model is refused, never mixed.

Vectors are computed by zettelmem (collections have no embedding function).
A store written in the old single-collection layout is migrated when opened
(:mod:`zettelmem.vectors.chroma_legacy`). A local folder is locked while open:
a second opener gets :class:`~zettelmem.errors.StoreLocked`.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from zettelmem.errors import (
    BackendUnavailable,
    EmbeddingModelMismatch,
    InvalidInput,
    StoreCorrupt,
    StoreError,
    StoreLocked,
)
from zettelmem.filters import Filter, chroma_filter
from zettelmem.models import Scope
from zettelmem.vectors.base import VectorHit

__all__ = ["LAYOUT", "ChromaVectorIndex", "collection_name", "use_wal"]

LAYOUT = 2  # 1: one collection for every scope (filtered by metadata); 2: one collection per scope
_PAGE = 5000
_REGISTRY = "registry"


def _chroma_settings() -> Any:
    from chromadb.config import Settings as ChromaSettings

    return ChromaSettings(anonymized_telemetry=False, allow_reset=False)


def use_wal(folder: Path) -> None:
    """Put a local Chroma folder's ``chroma.sqlite3`` in SQLite's WAL journal mode.

    Chroma leaves SQLite in its default rollback-journal mode, where every write
    creates, syncs and deletes a journal file (about eight fsyncs): measured here,
    a one-vector upsert on a 1k collection took 19.5 ms that way and 3.4 ms in WAL
    mode, which SQLite records in the file and Chroma keeps. Commits stay durable
    (the WAL is synced on commit). Best effort, and only while Chroma has no open
    client on the folder in this process: a second SQLite library must not
    switch a file under one that holds it (nor drop its POSIX locks).
    """
    from chromadb.api.shared_system_client import SharedSystemClient

    if str(folder) in getattr(SharedSystemClient, "_identifier_to_system", {str(folder): None}):
        return
    folder.mkdir(parents=True, exist_ok=True)
    try:
        db = sqlite3.connect(folder / "chroma.sqlite3", timeout=5, isolation_level=None)
    except sqlite3.Error:
        return
    try:
        db.execute("PRAGMA journal_mode=WAL")
    except sqlite3.Error:
        pass
    finally:
        db.close()


def collection_name(index: str, scope_key: str | None) -> str:
    """The Chroma name of a scope's collection (``None``: the index's registry).

    Valid for Chroma (3-63 characters of ``[a-zA-Z0-9._-]``, alphanumeric at both
    ends): a readable head of the index name, then a 128-bit hash of index name
    and scope key. A scope key holds two ``\\x1f``, so it never equals the registry tag.
    """
    tag = _REGISTRY if scope_key is None else f"scope\x1f{scope_key}"
    digest = hashlib.blake2b(f"{index}\x1e{tag}".encode(), digest_size=16).hexdigest()
    head = re.sub(r"[^a-zA-Z0-9_-]", "_", index).strip("_-")[:24].strip("_-")
    return f"{head or 'zm'}-{digest}"


def _not_found(exc: BaseException) -> bool:
    return type(exc).__name__ == "NotFoundError"


class ChromaVectorIndex:
    """The vectors of one memory: a registry and one cosine collection per scope.

    Args:
        client: a chromadb client (``PersistentClient`` or ``HttpClient``).
        index: the index name (``collection`` in the settings); names this
            memory's collections, so memories sharing a server never meet.
        model_id / dims: the embedding model; a store of another model is refused.
        where_label: where the client points, for messages.
        cache_size: how many scope collections stay open.
        release: called by :meth:`close` (the folder lock of a local index).
    """

    def __init__(self, client: Any, index: str, model_id: str, dims: int, where_label: str, *,
                 cache_size: int = 256, release: Callable[[], None] | None = None) -> None:
        from zettelmem.vectors.chroma_legacy import legacy_collection, migrate_legacy

        self._client = client
        self.index = index
        self.where = where_label
        self.model_id = model_id
        self.dims = dims
        self._release = release
        self._cache: OrderedDict[str, Any] = OrderedDict()
        self._cache_size = max(1, cache_size)
        self._mutex = threading.Lock()
        legacy = self._call("open", legacy_collection, client, index)
        if legacy is not None:
            self._check_model(legacy.metadata or {}, f"collection {index!r}")
        self._registry = self._call("open", client.get_or_create_collection, collection_name(index, None),
                                    metadata=self._col_meta(None), embedding_function=None)
        self._check(self._registry, None)
        if legacy is not None:
            migrate_legacy(self, legacy)

    @classmethod
    def local(cls, path: Path, index: str, model_id: str, dims: int, *, cache_size: int = 256,
              read_only: bool = False) -> ChromaVectorIndex:
        """An index in a local folder, locked (``<path>.lock``) until :meth:`close`.

        ``read_only``: a reader beside the writer takes no lock (the engine refuses its writes).
        """
        import chromadb
        from filelock import FileLock, Timeout

        if read_only:
            try:
                client = chromadb.PersistentClient(path=str(path), settings=_chroma_settings())
            except Exception as exc:
                raise StoreCorrupt(f"cannot open Chroma folder {path}: {exc}") from exc
            return cls(client, index, model_id, dims, str(path), cache_size=cache_size)
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(path) + ".lock")
        try:
            lock.acquire(timeout=0)
        except Timeout as exc:
            raise StoreLocked(f"the Chroma folder {path} is open in another process (lock {lock.lock_file})") from exc
        try:
            use_wal(path)
            try:
                client = chromadb.PersistentClient(path=str(path), settings=_chroma_settings())
            except Exception as exc:
                raise StoreCorrupt(f"cannot open Chroma folder {path}: {exc}") from exc
            return cls(client, index, model_id, dims, str(path), cache_size=cache_size, release=lock.release)
        except BaseException:
            lock.release()
            raise

    @classmethod
    def server(
        cls, host: str, port: int, index: str, model_id: str, dims: int, *, ssl: bool = False,
        headers: dict[str, str] | None = None, cache_size: int = 256,
    ) -> ChromaVectorIndex:
        """An index on a Chroma server (``chroma run``)."""
        import chromadb

        url = f"{'https' if ssl else 'http'}://{host}:{port}"
        try:
            client = chromadb.HttpClient(host=host, port=port, ssl=ssl, headers=headers or None, settings=_chroma_settings())
            client.heartbeat()
        except Exception as exc:
            raise BackendUnavailable(f"Chroma server at {url} is not reachable: {exc}") from exc
        return cls(client, index, model_id, dims, url, cache_size=cache_size)

    # -- collections ------------------------------------------------------------------
    def _col_meta(self, scope_key: str | None) -> dict[str, Any]:
        meta: dict[str, Any] = {"hnsw:space": "cosine", "zm_index": self.index, "zm_layout": LAYOUT,
                                "zm_model": self.model_id, "zm_dims": self.dims}
        meta["zm_role" if scope_key is None else "zm_scope"] = _REGISTRY if scope_key is None else scope_key
        return meta

    def _check_model(self, meta: dict[str, Any], what: str) -> None:
        if meta.get("zm_model") not in (None, self.model_id) or meta.get("zm_dims") not in (None, self.dims):
            raise EmbeddingModelMismatch(
                f"vectors at {self.where} ({what}) were made by {meta.get('zm_model')} ({meta.get('zm_dims')} dims); "
                f"this Memory embeds with {self.model_id} ({self.dims} dims). Use the same model or a new store."
            )

    def _check(self, col: Any, scope_key: str | None) -> None:
        """Refuse a collection that is not this index's collection of ``scope_key``."""
        meta = col.metadata or {}
        owner = (meta.get("zm_index"), meta.get("zm_scope") if scope_key is not None else meta.get("zm_role"))
        if owner != (self.index, scope_key if scope_key is not None else _REGISTRY):
            raise StoreCorrupt(
                f"Chroma collection {col.name!r} at {self.where} belongs to index {owner[0]!r} ({owner[1]!r}), "
                f"not to index {self.index!r}; refusing to mix them"
            )
        self._check_model(meta, f"collection {col.name!r}")

    def _collection(self, key: str, create: bool) -> Any | None:
        """The open collection of scope ``key`` (created and registered if ``create``), else ``None``."""
        with self._mutex:
            col = self._cache.get(key)
            if col is not None:
                self._cache.move_to_end(key)
                return col
        name = collection_name(self.index, key)
        try:
            col = self._client.get_collection(name, embedding_function=None)
        except Exception as exc:
            if not _not_found(exc):
                raise self._wrap("open", exc) from exc
            if not create:
                return None
            # registered first: a registry record without its collection is harmless
            self._call("register", self._registry.upsert, ids=[name], embeddings=np.ones((1, 1), dtype=np.float32),
                       metadatas=[{"zm_scope": key}])
            col = self._call("open", self._client.get_or_create_collection, name, metadata=self._col_meta(key),
                             embedding_function=None)
        self._check(col, key)
        with self._mutex:
            self._cache[key] = col
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return col

    def _forget(self, key: str) -> None:
        with self._mutex:
            self._cache.pop(key, None)

    def _on(self, key: str, create: bool, method: str, **kwargs: Any) -> Any:
        """Call ``method`` of scope ``key``'s collection; ``None`` when it has none and ``create`` is false.

        A collection dropped by another process since it was cached is reopened once.
        """
        what = method
        for attempt in (0, 1):
            col = self._collection(key, create)
            if col is None:
                return None
            try:
                return getattr(col, method)(**kwargs)
            except Exception as exc:
                if _not_found(exc) and attempt == 0:
                    self._forget(key)
                    continue
                if _not_found(exc) and not create:
                    return None
                raise self._wrap(what, exc) from exc
        return None  # pragma: no cover - the loop returns or raises

    def _wrap(self, what: str, exc: Exception) -> StoreError:
        if isinstance(exc, StoreError):
            return exc
        name = type(exc).__name__
        if isinstance(exc, ConnectionError | OSError) or "Connect" in name or "Timeout" in name or "Transport" in name:
            return BackendUnavailable(f"Chroma at {self.where} failed during {what}: {exc}")
        return StoreError(f"Chroma {what} failed: {exc}")

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            raise self._wrap(what, exc) from exc

    @staticmethod
    def _by_scope(metadatas: Sequence[dict[str, Any]]) -> dict[str, list[int]]:
        rows: dict[str, list[int]] = {}
        for i, meta in enumerate(metadatas):
            key = meta.get("scope")
            try:
                Scope.from_key(key) if isinstance(key, str) else None
            except ValueError:
                key = None
            if not isinstance(key, str):
                raise InvalidInput(f"vector metadata needs the note's scope key, got {meta.get('scope')!r}")
            rows.setdefault(key, []).append(i)
        return rows

    # -- writes -----------------------------------------------------------------------
    def upsert(self, ids: Sequence[str], vectors: np.ndarray, metadatas: Sequence[dict[str, Any]]) -> None:
        if not ids:
            return
        if vectors.ndim != 2 or vectors.shape[1] != self.dims:
            raise EmbeddingModelMismatch(f"vector dims {vectors.shape[-1]} != index dims {self.dims}")
        if not len(ids) == len(vectors) == len(metadatas):
            raise InvalidInput(f"{len(ids)} ids, {len(vectors)} vectors and {len(metadatas)} metadatas")
        vecs = vectors.astype(np.float32)
        for key, rows in self._by_scope(metadatas).items():
            self._on(key, True, "upsert", ids=[ids[i] for i in rows], embeddings=vecs[rows],
                     metadatas=[metadatas[i] for i in rows])

    def update_metadata(self, ids: Sequence[str], metadatas: Sequence[dict[str, Any]]) -> None:
        if not ids:
            return
        for key, rows in self._by_scope(metadatas).items():
            self._on(key, False, "update", ids=[ids[i] for i in rows], metadatas=[metadatas[i] for i in rows])

    def delete(self, ids: Sequence[str], scope: Scope) -> None:
        if not ids:
            return
        self._on(scope.key, False, "delete", ids=list(ids))
        if self._on(scope.key, False, "count") == 0:
            self.drop_scope(scope)

    def drop_scope(self, scope: Scope) -> None:
        """Delete every vector of ``scope``, its collection and its registry record."""
        key, name = scope.key, collection_name(self.index, scope.key)

        # records first: Chroma 1.x leaves list metadata of a dropped collection behind (chroma#7594)
        while page := (self._on(key, False, "get", include=[], limit=_PAGE) or {}).get("ids"):
            self._on(key, False, "delete", ids=page)
        self._forget(key)
        try:
            self._client.delete_collection(name)
        except Exception as exc:
            if not _not_found(exc):
                raise self._wrap("drop", exc) from exc
        self._call("unregister", self._registry.delete, ids=[name])

    # -- reads ------------------------------------------------------------------------
    def query(self, vector: np.ndarray, scope: Scope, k: int, where: Filter | None = None) -> list[VectorHit]:
        return self.query_many(vector[None, :], scope, k, where)[0]

    def query_many(self, vectors: np.ndarray, scope: Scope, k: int, where: Filter | None = None) -> list[list[VectorHit]]:
        """One round trip for several query vectors of one scope."""
        empty: list[list[VectorHit]] = [[] for _ in range(len(vectors))]
        if k <= 0 or len(vectors) == 0:
            return empty
        if vectors.ndim != 2 or vectors.shape[1] != self.dims:
            raise EmbeddingModelMismatch(f"query vector dims {vectors.shape[-1]} != index dims {self.dims}")
        flt = chroma_filter(where)
        res = self._on(scope.key, False, "query", query_embeddings=vectors.astype(np.float32), n_results=k,
                       where=flt, include=["distances"])
        if res is None:
            return empty
        out = [[VectorHit(i, 1.0 - float(d)) for i, d in zip(ids, dists, strict=True)]
               for ids, dists in zip(res["ids"] or [], res.get("distances") or [], strict=True)]
        return out or empty

    def _get(self, ids: Sequence[str], scope: Scope, include: list[str]) -> list[dict[str, Any]]:
        pages: list[dict[str, Any]] = []
        ids = list(dict.fromkeys(ids))
        for start in range(0, len(ids), _PAGE):
            chunk = ids[start : start + _PAGE]
            res = self._on(scope.key, False, "get", ids=chunk, include=include)
            if res is None:
                return []
            pages.append(res)
        return pages

    def metadata(self, ids: Sequence[str], scope: Scope) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for res in self._get(ids, scope, ["metadatas"]):
            out.update(zip(res["ids"], res["metadatas"] or [], strict=False))
        return out

    def get_vectors(self, ids: Sequence[str], scope: Scope) -> dict[str, np.ndarray]:
        """Stored vectors by id (missing ids are absent)."""
        out: dict[str, np.ndarray] = {}
        for res in self._get(ids, scope, ["embeddings"]):
            embs = res.get("embeddings")
            if embs is not None:
                out.update((i, np.asarray(e, dtype=np.float32)) for i, e in zip(res["ids"], embs, strict=True))
        return out

    def ids(self, scope: Scope | None = None) -> set[str]:
        if scope is None:
            return set().union(*(self.ids(s) for s in self.scopes()))
        out: set[str] = set()
        offset = 0
        while True:
            res = self._on(scope.key, False, "get", include=[], limit=_PAGE, offset=offset)
            if res is None:
                return out
            out.update(res["ids"])
            if len(res["ids"]) < _PAGE:
                return out
            offset += _PAGE

    def scopes(self) -> list[Scope]:
        """The scopes registered in this index (each has, or had, a collection)."""
        keys: list[str] = []
        offset = 0
        while True:
            res = self._call("get", self._registry.get, include=["metadatas"], limit=_PAGE, offset=offset)
            keys += [m["zm_scope"] for m in res["metadatas"] or [] if m and isinstance(m.get("zm_scope"), str)]
            if len(res["ids"]) < _PAGE:
                return [Scope.from_key(k) for k in sorted(set(keys))]
            offset += _PAGE

    def count(self, scope: Scope | None = None) -> int:
        if scope is None:
            return sum(self.count(s) for s in self.scopes())
        return int(self._on(scope.key, False, "count") or 0)

    def close(self) -> None:
        with self._mutex:
            self._cache.clear()
        closer = getattr(self._client, "close", None)
        if callable(closer):
            try:
                closer()
            except Exception:
                pass
        if self._release is not None:
            release, self._release = self._release, None
            release()
