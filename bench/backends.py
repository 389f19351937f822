"""Graph backends side by side: NetworkX vs Neo4j vs a bare Chroma query, in one run.

For each backend the same synthetic but realistic memories (people, places,
activities, pets, plans; fixed seed) go through ``Memory.add_many`` (offline
agents, batched), then the same queries through ``Memory.search`` (hybrid:
dense + BM25 + graph expansion). Reported per backend:

* notes and links written, ingest seconds, notes/s and (notes+links)/s;
* search latency p50 / p95 in ms (after a short warm-up).

The floor for search is a bare Chroma query with precomputed query vectors on
the same collection (no embedding, no graph, no fusion).

Neo4j: ``--neo4j-uri`` (or ``NEO4J_URI`` with ``NEO4J_USER``/``NEO4J_PASSWORD``)
names a server; the run uses a fresh scope there and deletes it afterwards.
Without one, a private server is started with ``scripts/neo4j_server.py`` in a
temporary folder and stopped at the end. Usage::

    python bench/backends.py                                # 10k notes, ONNX embedder
    python bench/backends.py --notes 200 --embedding hashing  # CI smoke
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

import numpy as np  # noqa: E402
from pydantic import SecretStr  # noqa: E402

from bench.bench_common import synth_memories, synth_queries  # noqa: E402
from zettelmem import Memory, Scope, Settings  # noqa: E402
from zettelmem.config import HashingEmbeddingConfig, Neo4jConfig, OnnxEmbeddingConfig  # noqa: E402


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values) * 1000.0, q))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def neo4j_script() -> Any:
    from zettelmem.testing import neo4j_server

    return neo4j_server


def run_memory(name: str, settings: Settings, items: list[dict[str, Any]], queries: list[str], scope: Scope,
               batch_size: int) -> tuple[dict[str, Any], Any]:
    """Ingest then search through Memory; return the row and, for the bare-Chroma floor, the vectors used."""
    with Memory(settings) as mem:
        t0 = time.perf_counter()
        mem.add_many(items, scope=scope, batch_size=batch_size,
                     progress=lambda done, total: print(f"\r  {name}: {done}/{total}", end="", file=sys.stderr))
        ingest = time.perf_counter() - t0
        print(file=sys.stderr)
        stats = mem.stats(scope)
        for q in queries[:5]:  # warm-up (caches)
            mem.search(q, scope=scope, k=10)
        lat = []
        for q in queries:
            t = time.perf_counter()
            mem.search(q, scope=scope, k=10)
            lat.append(time.perf_counter() - t)
        floor = None
        if name == "networkx":  # the bare Chroma query on the same collection, query vectors precomputed
            qvecs = mem.aio.embedder.embed(queries)
            vectors = mem.aio.vectors
            for v in qvecs[:5]:
                vectors.query(v, scope, 10)
            bare = []
            for v in qvecs:
                t = time.perf_counter()
                vectors.query(v, scope, 10)
                bare.append(time.perf_counter() - t)
            floor = {"backend": "chroma (bare query)", "p50_ms": pct(bare, 50), "p95_ms": pct(bare, 95)}
    row = {
        "backend": name, "notes": stats["notes"], "links": stats["links"], "changes": stats["changes"],
        "ingest_s": ingest, "notes_per_s": stats["notes"] / ingest,
        "writes_per_s": (stats["notes"] + stats["links"]) / ingest,
        "p50_ms": pct(lat, 50), "p95_ms": pct(lat, 95),
    }
    return row, floor


def table(rows: list[dict[str, Any]]) -> str:
    head = (f"{'backend':<22}{'notes':>7}{'links':>8}{'ingest s':>10}{'notes/s':>9}{'(n+l)/s':>9}"
            f"{'p50 ms':>9}{'p95 ms':>9}")
    lines = [head, "-" * len(head)]
    for r in rows:
        if "notes" in r:
            lines.append(f"{r['backend']:<22}{r['notes']:>7}{r['links']:>8}{r['ingest_s']:>10.1f}"
                         f"{r['notes_per_s']:>9.1f}{r['writes_per_s']:>9.1f}{r['p50_ms']:>9.1f}{r['p95_ms']:>9.1f}")
        else:
            lines.append(f"{r['backend']:<22}{'':>7}{'':>8}{'':>10}{'':>9}{'':>9}{r['p50_ms']:>9.2f}{r['p95_ms']:>9.2f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--notes", type=int, default=10_000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--embedding", choices=["onnx", "hashing"], default="onnx")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--neo4j-uri", default=os.environ.get("NEO4J_URI"))
    ap.add_argument("--backends", default="networkx,neo4j")
    ap.add_argument("--json", type=Path, help="also write the rows as JSON here")
    args = ap.parse_args(argv)

    embedding = OnnxEmbeddingConfig() if args.embedding == "onnx" else HashingEmbeddingConfig()
    items, queries = synth_memories(args.notes), synth_queries(args.queries)
    scope = Scope(user_id=f"bench-{uuid.uuid4().hex[:8]}")
    rows: list[dict[str, Any]] = []
    floor = None
    with tempfile.TemporaryDirectory(prefix="zm-bench-") as tmp:
        base = dict(embedding=embedding, use_llm=False)
        if "networkx" in args.backends:
            row, floor = run_memory("networkx", Settings(home=Path(tmp) / "nx", **base), items, queries, scope,
                                    args.batch_size)
            rows.append(row)
        if "neo4j" in args.backends:
            rows.append(run_neo4j(args, Path(tmp), base, items, queries, scope))
    if floor is not None:
        rows.append(floor)
    print(f"\n{args.notes} notes, {args.queries} queries, embedding {args.embedding}, "
          f"batch {args.batch_size}; {platform.python_version()}, {os.cpu_count()} cpus\n")
    print(table(rows))
    if args.json:
        args.json.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "rows": rows}, indent=1))
    return 0


def run_neo4j(args: Any, tmp: Path, base: dict[str, Any], items: list[dict[str, Any]], queries: list[str],
              scope: Scope) -> dict[str, Any]:
    from zettelmem.stores.neo4j import Neo4jGraphStore

    script = private = None
    if args.neo4j_uri:
        cfg = Neo4jConfig(uri=args.neo4j_uri, user=os.environ.get("NEO4J_USER", "neo4j"),
                          password=SecretStr(os.environ.get("NEO4J_PASSWORD", "")))
    else:
        script = neo4j_script()
        private = tmp / "neo4j"
        info = script.start(private, port=free_port(), heap="1g", pagecache="256m")
        cfg = Neo4jConfig(uri=info["uri"], user=info["user"], password=SecretStr(info["password"]))
    try:
        with Neo4jGraphStore(cfg) as store:
            store.setup()
        row, _ = run_memory("neo4j", Settings(home=tmp / "neo", graph=cfg, **base), items, queries, scope,
                            args.batch_size)
        return row
    finally:
        if script is not None:
            script.stop(private)
        else:
            with Neo4jGraphStore(cfg) as store:
                for query in ("MATCH (c:Change) WHERE c.scope = $s DETACH DELETE c",
                              "MATCH (n:Note) WHERE n.scope = $s DETACH DELETE n",
                              "MATCH (m:ZmMeta) WHERE m.key CONTAINS $s DELETE m"):
                    store.run_cypher(query, {"s": scope.key})


if __name__ == "__main__":
    sys.exit(main())
