"""Vector indexes: Chroma, embedded (PersistentClient) or a server (HttpClient)."""

from zettelmem.vectors.base import VectorHit, VectorIndex
from zettelmem.vectors.chroma import ChromaVectorIndex

__all__ = ["ChromaVectorIndex", "VectorHit", "VectorIndex"]
