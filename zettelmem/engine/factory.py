"""Open the backends a Settings object describes."""

from __future__ import annotations

from zettelmem.config import ChromaLocalConfig, Neo4jConfig, NetworkXConfig, Settings
from zettelmem.embeddings import Embedder, make_embedder
from zettelmem.engine.identity import verify_identity
from zettelmem.errors import EmbeddingModelMismatch
from zettelmem.stores.base import GraphStore
from zettelmem.vectors.base import VectorIndex

__all__ = ["open_backends", "open_graph", "open_vectors"]


def open_graph(settings: Settings) -> GraphStore:
    g = settings.graph
    if isinstance(g, Neo4jConfig):
        from zettelmem.stores.neo4j import Neo4jGraphStore

        return Neo4jGraphStore(g)
    from zettelmem.stores.networkx_store import NetworkXGraphStore

    return NetworkXGraphStore(settings.graph_path(), synchronous=g.synchronous, cache_size=g.note_cache)


def open_vectors(settings: Settings, embedder: Embedder) -> VectorIndex:
    from zettelmem.vectors.chroma import ChromaVectorIndex

    v = settings.vectors
    if isinstance(v, ChromaLocalConfig):
        return ChromaVectorIndex.local(settings.chroma_path(), v.collection, embedder.model_id, embedder.dims)
    return ChromaVectorIndex.server(v.host, v.port, v.collection, embedder.model_id, embedder.dims,
                                    ssl=v.ssl, headers=v.headers)


def open_backends(
    settings: Settings,
    graph: GraphStore | None = None,
    vectors: VectorIndex | None = None,
    embedder: Embedder | None = None,
) -> tuple[GraphStore, VectorIndex, Embedder]:
    """Graph first (it holds the folder lock), then embedder and vectors; model ids must agree."""
    settings.home.mkdir(parents=True, exist_ok=True)
    graph = graph or open_graph(settings)
    try:
        embedder = embedder or make_embedder(settings.embedding)
        recorded = graph.get_meta("embedding_model")  # also proves the graph is reachable and migrated
        if isinstance(settings.graph, NetworkXConfig):
            # an embedded folder pairs one graph with one vector folder: record the model with it.
            # (A shared server graph may serve several vector indexes; each Chroma index, and each
            # of its per-scope collections, records its own model and refuses another one.)
            mine = f"{embedder.model_id}:{embedder.dims}"
            if recorded is None:
                graph.put_meta("embedding_model", mine)
            elif recorded != mine:
                raise EmbeddingModelMismatch(
                    f"this store was built with embedding model {recorded}; the configured model is {mine}"
                )
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
