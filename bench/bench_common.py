"""Helpers shared by the benchmarks: the bare-Chroma baseline, percentiles, machine line."""

from __future__ import annotations

import os
import platform
import time
from datetime import datetime
from pathlib import Path

import numpy as np

__all__ = ["bare_chroma_latency", "machine", "pct_ms"]


def machine() -> str:
    return f"{platform.node()} ({os.cpu_count()} cores, Python {platform.python_version()}), {datetime.now():%Y-%m-%d %H:%M}"


def pct_ms(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values), q)) * 1000


def bare_chroma_latency(vectors: np.ndarray, queries: np.ndarray, path: Path, k: int = 10) -> list[float]:
    """Seconds per query of a plain Chroma collection holding the same vectors (scope-filtered)."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    client = chromadb.PersistentClient(path=str(path), settings=ChromaSettings(anonymized_telemetry=False))
    col = client.get_or_create_collection("bare_baseline", metadata={"hnsw:space": "cosine"}, embedding_function=None)
    ids = [str(i) for i in range(len(vectors))]
    for s in range(0, len(ids), 5000):
        chunk = ids[s : s + 5000]
        col.add(ids=chunk, embeddings=vectors[s : s + 5000], metadatas=[{"scope": "s"}] * len(chunk))
    out = []
    for q in queries:
        t = time.perf_counter()
        col.query(query_embeddings=[q], n_results=k, where={"scope": "s"})
        out.append(time.perf_counter() - t)
    return out
