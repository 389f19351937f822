"""Why one Chroma collection per scope: top-10 query latency of the two layouts, in one run.

The same random unit vectors (``--vectors``, ``--dims``) are stored twice in a
local Chroma folder:

* **one collection + where**: every vector in one collection, tagged with its
  scope (a big scope with 90 % of them, a small one with 10 %), each query
  filtered by ``where={"scope": ...}`` (zettelmem's layout up to 06b6dcd);
* **collection per scope**: each scope's vectors in their own collection, each
  query a plain HNSW search (zettelmem's layout now), also with a tag filter
  inside the scope.

Baselines in the same run: the unfiltered query on the one collection, and a
numpy brute-force scan of every vector. Usage::

    nice python -m bench.vector_layout                   # 100k vectors, 384 dims
    python -m bench.vector_layout --vectors 2000 --queries 5 --dims 16   # smoke
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from bench.bench_common import machine, pct_ms


def _lat(fn: Callable[[np.ndarray], Any], queries: np.ndarray) -> list[float]:
    for q in queries[:3]:
        fn(q)
    out = []
    for q in queries:
        t = time.perf_counter()
        fn(q)
        out.append(time.perf_counter() - t)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vectors", type=int, default=100_000)
    ap.add_argument("--dims", type=int, default=384)
    ap.add_argument("--queries", type=int, default=100)
    ap.add_argument("--big-share", type=float, default=0.9)
    args = ap.parse_args(argv)
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    rng = np.random.default_rng(7)
    vecs = rng.normal(size=(args.vectors, args.dims)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    queries = rng.normal(size=(args.queries, args.dims)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    n_big = int(args.vectors * args.big_share)
    scope = np.array(["big"] * n_big + ["small"] * (args.vectors - n_big))
    tags = [["even"] if i % 2 == 0 else ["odd"] for i in range(args.vectors)]
    rows: list[tuple[str, str, list[float]]] = []
    with tempfile.TemporaryDirectory(prefix="zm-layout-") as tmp:
        client = chromadb.PersistentClient(path=tmp, settings=ChromaSettings(anonymized_telemetry=False))

        def fill(name: str, idx: np.ndarray) -> Any:
            col = client.create_collection(name, metadata={"hnsw:space": "cosine"}, embedding_function=None)
            for s in range(0, len(idx), 5000):
                part = idx[s : s + 5000]
                col.add(ids=[str(i) for i in part], embeddings=vecs[part],
                        metadatas=[{"scope": str(scope[i]), "tags": tags[i]} for i in part])
            return col

        t = time.perf_counter()
        one = fill("one-collection", np.arange(args.vectors))
        per = {s: fill(f"scope-{s}", np.flatnonzero(scope == s)) for s in ("big", "small")}
        print(f"  filled both layouts in {time.perf_counter() - t:.0f} s", file=sys.stderr)

        def q(col: Any, where: dict[str, Any] | None) -> Callable[[np.ndarray], Any]:
            return lambda v: col.query(query_embeddings=v[None, :], n_results=10, where=where, include=["distances"])

        for s in ("big", "small"):
            share = f"{np.mean(scope == s):.0%} scope"
            rows.append(("one collection + where", share, _lat(q(one, {"scope": s}), queries)))
            rows.append(("collection per scope", share, _lat(q(per[s], None), queries)))
            rows.append(("collection per scope + tag filter", share,
                         _lat(q(per[s], {"tags": {"$contains": "even"}}), queries)))
        rows.append(("one collection, unfiltered (baseline)", "all", _lat(q(one, None), queries)))
        rows.append(("numpy brute force (baseline)", "all", _lat(lambda v: np.argpartition(-(vecs @ v), 10)[:10],
                                                                queries)))
    print(f"# vector layout — {machine()}; {args.vectors:,} random {args.dims}-d vectors, "
          f"{args.queries} top-10 queries, chromadb {chromadb.__version__}")
    print("| layout | scope | p50 ms | p95 ms |")
    print("|---|---|---|---|")
    for name, share, lat in rows:
        print(f"| {name} | {share} | {pct_ms(lat, 50):.2f} | {pct_ms(lat, 95):.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
