"""Open the backends a Settings object describes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, cast

from zettelmem.config import ChromaLocalConfig, Neo4jConfig, NetworkXConfig, Settings
from zettelmem.embeddings import Embedder, make_embedder
from zettelmem.engine.identity import verify_identity
from zettelmem.errors import EmbeddingModelMismatch, StoreReadOnly
from zettelmem.stores.base import GraphStore
from zettelmem.vectors.base import VectorIndex

__all__ = ["open_backends", "open_graph", "open_vectors"]


class _ReadOnlyVectors:
    """A vector index opened on first use, that reads through and refuses every write.

    Read-only opens (CLI ``show``, ``list``, ``history``) often never touch the
    vectors: opening Chroma lazily spares them its start-up. A write is refused
    before anything is written.
    """

    def __init__(self, opener: Callable[[], VectorIndex]) -> None:
        self._opener = opener
        self._inner: VectorIndex | None = None

    def _refuse(self, *args: Any, **kwargs: Any) -> None:
        raise StoreReadOnly("this memory is open read-only; open it without read_only to write")

    upsert = update_metadata = delete = _refuse

    def close(self) -> None:
        if self._inner is not None:
            self._inner.close()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        if self._inner is None:
            self._inner = self._opener()
        return getattr(self._inner, name)


def refuse_writes(store: GraphStore) -> GraphStore:
    """Make ``store`` refuse every write batch with StoreReadOnly (a server store opened read-only)."""
    from zettelmem.stores.base import DeleteLinks, DeleteNotes, PutChanges, PutLinks, PutMeta, PutNotes

    writes = (PutNotes, DeleteNotes, PutLinks, DeleteLinks, PutChanges, PutMeta)
    inner = store.batch

    def batch(ops: Sequence[Any]) -> list[Any]:
        if any(isinstance(op, writes) for op in ops):
            raise StoreReadOnly("this memory is open read-only; open it without read_only to write")
        return inner(ops)

    store.batch = batch  # type: ignore[method-assign]
    return store


def open_graph(settings: Settings, *, read_only: bool = False) -> GraphStore:
    """The configured graph store; ``read_only`` opens an embedded store without the writer lock."""
    g = settings.graph
    if isinstance(g, Neo4jConfig):
        from zettelmem.stores.neo4j import Neo4jGraphStore

        store: GraphStore = Neo4jGraphStore(g)
        return refuse_writes(store) if read_only else store
    from zettelmem.stores.networkx_store import NetworkXGraphStore

    return NetworkXGraphStore(settings.graph_path(), synchronous=g.synchronous, cache_size=g.note_cache,
                              read_only=read_only)


def open_vectors(settings: Settings, embedder: Embedder, *, read_only: bool = False) -> VectorIndex:
    """The configured vector index; a ``read_only`` opener takes no writer lock (and writes nothing)."""
    from zettelmem.vectors.chroma import ChromaVectorIndex

    v = settings.vectors
    if isinstance(v, ChromaLocalConfig):
        return ChromaVectorIndex.local(settings.chroma_path(), v.collection, embedder.model_id, embedder.dims,
                                       read_only=read_only)
    return ChromaVectorIndex.server(v.host, v.port, v.collection, embedder.model_id, embedder.dims,
                                    ssl=v.ssl, headers=v.headers)


def open_backends(
    settings: Settings,
    graph: GraphStore | None = None,
    vectors: VectorIndex | None = None,
    embedder: Embedder | None = None,
    *,
    read_only: bool = False,
) -> tuple[GraphStore, VectorIndex, Embedder]:
    """Graph first (it holds the folder lock), then embedder and vectors; model ids must agree.

    ``read_only`` opens without the writer lock and creates nothing: an embedded
    folder that holds no store raises :class:`~zettelmem.errors.StoreNotFound`.
    """
    if not read_only:
        settings.home.mkdir(parents=True, exist_ok=True)
    graph = graph or open_graph(settings, read_only=read_only)
    try:
        embedder = embedder or make_embedder(settings.embedding)
        recorded = graph.get_meta("embedding_model")  # also proves the graph is reachable and migrated
        if isinstance(settings.graph, NetworkXConfig):
            # an embedded folder pairs one graph with one vector folder: record the model with it.
            # (A shared server graph may serve several vector indexes; each Chroma index, and each
            # of its per-scope collections, records its own model and refuses another one.)
            mine = f"{embedder.model_id}:{embedder.dims}"
            if recorded is None and not read_only:
                graph.put_meta("embedding_model", mine)
            elif recorded is not None and recorded != mine:
                raise EmbeddingModelMismatch(
                    f"this store was built with embedding model {recorded}; the configured model is {mine}"
                )
        if read_only:  # no identity check either: it may write, and a reader trusts the writer's folder
            given, emb = vectors, embedder
            vectors = cast("VectorIndex", _ReadOnlyVectors(
                lambda: given or open_vectors(settings, emb, read_only=True)))
        else:
            opened = vectors is None
            vectors = vectors or open_vectors(settings, embedder)
            if opened:
                try:
                    verify_identity(settings, graph, vectors)  # refuse a lost or swapped graph.sqlite
                except BaseException:
                    vectors.close()
                    raise
    except BaseException:
        graph.close()
        raise
    return graph, vectors, embedder
