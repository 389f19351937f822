"""Cost as the store grows: ingest throughput and search latency, beside their floors.

For each size N (default 1000 and 10000; add 100000 for the opt-in long run):

* floor for ingest: raw embedding throughput of the same model on the same texts;
* zettelmem add_many (offline agents, batched) on the embedded default
  (and on Neo4j with ``--neo4j``, reading NEO4J_URI/USER/PASSWORD);
* floor for search: a bare Chroma query (precomputed vectors, same collection size);
* zettelmem hybrid search p50/p95 (query embedding + dense + BM25 + graph);
* resident memory and store size on disk.

Texts are synthetic but realistic chat-style memories (people, places,
activities, dates) from a fixed seed. Usage::

    python bench/scale.py --sizes 1000,10000
    python bench/scale.py --sizes 100000 --queries 200     # opt-in, long
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from bench.bench_common import bare_chroma_latency, machine, synth_queries, synth_texts


def rss_mb() -> float:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmRSS"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def dir_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values), q)) * 1000


def run_size(n: int, queries: int, neo4j: bool, batch: int) -> list[dict[str, Any]]:
    from pydantic import SecretStr

    from zettelmem import Memory, Scope, Settings
    from zettelmem.config import Neo4jConfig
    from zettelmem.embeddings.onnx import OnnxEmbedder

    texts = synth_texts(n)
    qtexts = synth_queries(queries)
    emb = OnnxEmbedder()
    emb.embed(texts[:32])  # warm up
    t = time.perf_counter()
    vecs = emb.embed(texts)
    raw = n / (time.perf_counter() - t)
    qvecs = emb.embed(qtexts)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        bare = bare_chroma_latency(vecs, qvecs, Path(tmp) / "bare")
        p50, p95 = pct(bare, 50), pct(bare, 95)
        rows.append(dict(system="raw embedding (floor)", n=n, ingest=raw, p50=None, p95=None, rss=rss_mb(), disk=None))
        rows.append(dict(system="bare Chroma query (floor)", n=n, ingest=None, p50=p50, p95=p95, rss=None,
                         disk=dir_mb(Path(tmp) / "bare")))
        backends: list[tuple[str, Neo4jConfig | None]] = [("zettelmem embedded", None)]
        if neo4j:
            backends.append(("zettelmem neo4j", Neo4jConfig(uri=os.environ["NEO4J_URI"],
                                                             user=os.environ.get("NEO4J_USER", "neo4j"),
                                                             password=SecretStr(os.environ["NEO4J_PASSWORD"]))))
        for label, graph in backends:
            home = Path(tmp) / label.replace(" ", "_")
            settings = Settings(home=home) if graph is None else Settings(home=home, graph=graph)
            mem = Memory(settings)
            if graph is not None:
                mem.aio.graph.setup()
            scope = Scope(user_id=f"scale-{n}-{random.randrange(10**9)}")
            t0 = datetime(2024, 1, 1, tzinfo=UTC)
            items = [dict(content=x, event_time=t0 + timedelta(minutes=i)) for i, x in enumerate(texts)]
            done = [0]

            def progress(d: int, total: int, done: list[int] = done, label: str = label) -> None:
                if d - done[0] >= max(1000, total // 10) or d == total:
                    done[0] = d
                    print(f"  {label}: {d}/{total}", file=sys.stderr, flush=True)

            t = time.perf_counter()
            mem.add_many(items, scope=scope, batch_size=batch, progress=progress)
            ingest = n / (time.perf_counter() - t)
            mem.search(qtexts[0], scope=scope)  # warm-up (caches)
            lat = []
            for q in qtexts:
                t = time.perf_counter()
                mem.search(q, scope=scope, k=10)
                lat.append(time.perf_counter() - t)
            stats = mem.stats(scope)
            if graph is not None:  # leave the shared Neo4j database as we found it
                from zettelmem.testing import purge_neo4j

                purge_neo4j(mem.aio.graph, [scope], scope.user_id)
            mem.close()
            rows.append(dict(system=label, n=n, ingest=ingest, p50=pct(lat, 50), p95=pct(lat, 95), rss=rss_mb(),
                             disk=dir_mb(home), links=stats["links"]))
    return rows


def fmt(v: float | None, spec: str) -> str:
    return "—" if v is None else format(v, spec)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1000,10000")
    ap.add_argument("--queries", type=int, default=100)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--neo4j", action="store_true", help="also run on Neo4j (NEO4J_URI, NEO4J_PASSWORD)")
    args = ap.parse_args(argv)
    print(f"# scale benchmark — {machine()}; synthetic chat memories, offline agents")
    print("| system | notes | ingest (memories/s) | search p50 (ms) | search p95 (ms) | RSS (MB) | disk (MB) |")
    print("|---|---|---|---|---|---|---|")
    for n in [int(x) for x in args.sizes.split(",") if x]:
        rows = run_size(n, args.queries, args.neo4j, args.batch)
        for r in rows:
            print(f"| {r['system']} | {r['n']:,} | {fmt(r['ingest'], '.0f')} | {fmt(r['p50'], '.1f')} | "
                  f"{fmt(r['p95'], '.1f')} | {fmt(r['rss'], '.0f')} | {fmt(r['disk'], '.1f')} |", flush=True)
        raw = rows[0]["ingest"]
        bare = rows[1]["p50"]
        for r in rows[2:]:
            print(f"  {r['system']} @ {n:,}: ingest {r['ingest'] / raw:.0%} of raw embedding; "
                  f"search p50 {r['p50'] / bare:.1f}× bare Chroma; {r['links']:,} links", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
