"""Chroma as the VectorIndex: a local folder (PersistentClient) or a server (HttpClient).

Vectors are computed by zettelmem (the collection has no embedding function);
the collection's metadata records the embedding model id and dimension, and
opening it with another model raises :class:`EmbeddingModelMismatch`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from zettelmem.errors import BackendUnavailable, EmbeddingModelMismatch, StoreCorrupt, StoreError
from zettelmem.filters import Filter, chroma_where
from zettelmem.models import Scope
from zettelmem.vectors.base import VectorHit

__all__ = ["ChromaVectorIndex"]

_PAGE = 5000


def _chroma_settings() -> Any:
    from chromadb.config import Settings as ChromaSettings

    return ChromaSettings(anonymized_telemetry=False, allow_reset=False)


class ChromaVectorIndex:
    """One Chroma collection (cosine space) holding every scope, filtered by metadata."""

    def __init__(self, client: Any, collection: str, model_id: str, dims: int, where_label: str) -> None:
        self._client = client
        self.where = where_label
        self.model_id = model_id
        self.dims = dims
        try:
            self._col = client.get_or_create_collection(
                collection,
                metadata={"hnsw:space": "cosine", "zm_model": model_id, "zm_dims": dims},
                embedding_function=None,
            )
        except Exception as exc:
            raise BackendUnavailable(f"cannot open Chroma collection {collection!r} at {where_label}: {exc}") from exc
        meta = self._col.metadata or {}
        if meta.get("zm_model") not in (None, model_id) or meta.get("zm_dims") not in (None, dims):
            raise EmbeddingModelMismatch(
                f"vectors at {where_label} were made by {meta.get('zm_model')} ({meta.get('zm_dims')} dims); "
                f"this Memory embeds with {model_id} ({dims} dims). Use the same model or a new store."
            )

    @classmethod
    def local(cls, path: Path, collection: str, model_id: str, dims: int) -> ChromaVectorIndex:
        import chromadb

        try:
            client = chromadb.PersistentClient(path=str(path), settings=_chroma_settings())
        except Exception as exc:
            raise StoreCorrupt(f"cannot open Chroma folder {path}: {exc}") from exc
        return cls(client, collection, model_id, dims, str(path))

    @classmethod
    def server(
        cls, host: str, port: int, collection: str, model_id: str, dims: int, *, ssl: bool = False,
        headers: dict[str, str] | None = None,
    ) -> ChromaVectorIndex:
        import chromadb

        url = f"{'https' if ssl else 'http'}://{host}:{port}"
        try:
            client = chromadb.HttpClient(host=host, port=port, ssl=ssl, headers=headers or None, settings=_chroma_settings())
            client.heartbeat()
        except Exception as exc:
            raise BackendUnavailable(f"Chroma server at {url} is not reachable: {exc}") from exc
        return cls(client, collection, model_id, dims, url)

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (ConnectionError, OSError) as exc:
            raise BackendUnavailable(f"Chroma at {self.where} failed during {what}: {exc}") from exc
        except Exception as exc:
            name = type(exc).__name__
            if "Connect" in name or "Timeout" in name or "Transport" in name:
                raise BackendUnavailable(f"Chroma at {self.where} failed during {what}: {exc}") from exc
            raise StoreError(f"Chroma {what} failed: {exc}") from exc

    def upsert(self, ids: Sequence[str], vectors: np.ndarray, metadatas: Sequence[dict[str, Any]]) -> None:
        if not ids:
            return
        if vectors.shape[1] != self.dims:
            raise EmbeddingModelMismatch(f"vector dims {vectors.shape[1]} != index dims {self.dims}")
        self._call("upsert", self._col.upsert, ids=list(ids), embeddings=vectors.astype(np.float32), metadatas=list(metadatas))

    def update_metadata(self, ids: Sequence[str], metadatas: Sequence[dict[str, Any]]) -> None:
        if ids:
            self._call("update", self._col.update, ids=list(ids), metadatas=list(metadatas))

    def delete(self, ids: Sequence[str]) -> None:
        if ids:
            self._call("delete", self._col.delete, ids=list(ids))

    def query(self, vector: np.ndarray, scope: Scope, k: int, where: Filter | None = None) -> list[VectorHit]:
        return self.query_many(vector[None, :], scope, k, where)[0]

    def query_many(self, vectors: np.ndarray, scope: Scope, k: int, where: Filter | None = None) -> list[list[VectorHit]]:
        """One round trip for several query vectors of one scope."""
        if k <= 0 or len(vectors) == 0:
            return [[] for _ in range(len(vectors))]
        res = self._call(
            "query", self._col.query, query_embeddings=vectors.astype(np.float32), n_results=k,
            where=chroma_where(scope, where), include=["distances"],
        )
        out = []
        for ids, dists in zip(res["ids"] or [], res.get("distances") or [], strict=True):
            out.append([VectorHit(i, 1.0 - float(d)) for i, d in zip(ids, dists, strict=True)])
        return out or [[] for _ in range(len(vectors))]

    def metadata(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        ids = list(ids)
        for start in range(0, len(ids), _PAGE):
            res = self._call("get", self._col.get, ids=ids[start : start + _PAGE], include=["metadatas"])
            out.update(zip(res["ids"], res["metadatas"] or [], strict=False))
        return out

    def get_vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Stored vectors by id (missing ids are absent)."""
        if not ids:
            return {}
        res = self._call("get", self._col.get, ids=list(ids), include=["embeddings"])
        embs = res.get("embeddings")
        if embs is None:
            return {}
        return {i: np.asarray(e, dtype=np.float32) for i, e in zip(res["ids"], embs, strict=True)}

    def ids(self, scope: Scope | None = None) -> set[str]:
        out: set[str] = set()
        offset = 0
        where = {"scope": scope.key} if scope is not None else None
        while True:
            res = self._call("get", self._col.get, where=where, include=[], limit=_PAGE, offset=offset)
            out.update(res["ids"])
            if len(res["ids"]) < _PAGE:
                return out
            offset += _PAGE

    def count(self) -> int:
        return int(self._call("count", self._col.count))

    def close(self) -> None:
        closer = getattr(self._client, "close", None)
        if callable(closer):
            try:
                closer()
            except Exception:
                pass
