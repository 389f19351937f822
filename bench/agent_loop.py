"""The interactive agent loop: add one memory, then search, every turn, as the store grows.

For each size N and backend, in a fresh child process (so peak RSS is the run's own):

1. floors, measured in that process: raw embedding throughput (texts/s, the
   Memory's own embedder, same batch size as the build) and, after the loop,
   the query embedding alone and an unfiltered HNSW top-k on a bare Chroma
   collection holding the same N vectors (local folder, or the same Chroma
   server for the server backend);
2. build: ``Memory.add_many`` of N synthetic chat memories in batches of
   ``--build-batch`` (the whole pipeline: offline builder, linker, evolver,
   commit), timed — the fast path is only the batch size, nothing is skipped;
3. the loop, ``--steps`` times: ``add`` one new memory, ``search`` one query
   right after that write, then ``search`` another query with no write before it.

Printed: add p50/p95, search-after-write p50/p95, search-with-no-write-before
p50/p95, the floors, ingest throughput against the embedding floor, peak RSS,
and the ratios the project aims at (search after a write ≤ 1.2× search without;
add p50 ≤ 2× one embedding + one HNSW top-k; search p50 ≤ 2× the same floor).

Backends: ``embedded`` (NetworkX + local Chroma, the default) and ``server``
(Neo4j from ``NEO4J_URI``/``NEO4J_USER``/``NEO4J_PASSWORD`` + a Chroma server:
``--chroma-url`` or a ``chroma run`` started here). Usage::

    nice python -m bench.agent_loop --sizes 1000,10000
    nice python -m bench.agent_loop --sizes 1000,10000 --backends server
    python -m bench.agent_loop --sizes 60 --steps 5 --embedding hashing   # CI smoke
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from bench.bench_common import machine, pct_ms, synth_memories, synth_queries

BACKENDS = ("embedded", "server")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _timed(fn: Any, *args: Any, **kwargs: Any) -> float:
    t = time.perf_counter()
    fn(*args, **kwargs)
    return time.perf_counter() - t


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def chroma_server(url: str | None, tmp: Path) -> Iterator[tuple[str, int]]:
    """(host, port) of the Chroma server at ``url``, or of a ``chroma run`` started for the run."""
    if url:
        host, _, given = url.removeprefix("http://").partition(":")
        yield host, int(given or 8000)
        return
    exe = shutil.which("chroma", path=str(Path(sys.executable).parent)) or shutil.which("chroma")
    if exe is None:
        raise SystemExit("the `chroma` CLI is not installed; pass --chroma-url")
    port = _free_port()
    with open(tmp / "chroma.log", "wb") as log:
        proc = subprocess.Popen([exe, "run", "--path", str(tmp / "chroma-server"), "--host", "127.0.0.1",
                                 "--port", str(port)], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, env=dict(os.environ, ANONYMIZED_TELEMETRY="False"))
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=2):
                        break
                except OSError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise SystemExit(f"chroma run did not start: {(tmp / 'chroma.log').read_text()[-1000:]}") from None
                    time.sleep(0.3)
            yield "127.0.0.1", port
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def _settings(backend: str, home: Path, embedding: str, chroma: tuple[str, int] | None, index: str) -> Any:
    from pydantic import SecretStr

    from zettelmem import Settings
    from zettelmem.config import ChromaServerConfig, HashingEmbeddingConfig, Neo4jConfig, OnnxEmbeddingConfig

    emb = OnnxEmbeddingConfig() if embedding == "onnx" else HashingEmbeddingConfig()
    if backend == "embedded":
        return Settings(home=home, embedding=emb, use_llm=False)
    if "NEO4J_URI" not in os.environ or chroma is None:
        raise SystemExit("the server backend needs NEO4J_URI, NEO4J_USER, NEO4J_PASSWORD and a Chroma server")
    graph = Neo4jConfig(uri=os.environ["NEO4J_URI"], user=os.environ.get("NEO4J_USER", "neo4j"),
                        password=SecretStr(os.environ.get("NEO4J_PASSWORD", "")))
    return Settings(home=home, embedding=emb, use_llm=False, graph=graph,
                    vectors=ChromaServerConfig(host=chroma[0], port=chroma[1], collection=index))


def _bare_hnsw(vectors: np.ndarray, queries: np.ndarray, k: int, tmp: Path, chroma: tuple[str, int] | None) -> list[float]:
    """Seconds per unfiltered top-k query on a bare Chroma collection of these vectors."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    cs = ChromaSettings(anonymized_telemetry=False)
    client = (chromadb.PersistentClient(path=str(tmp / "bare"), settings=cs) if chroma is None
              else chromadb.HttpClient(host=chroma[0], port=chroma[1], settings=cs))
    name = f"bare-{uuid.uuid4().hex[:12]}"
    col = client.create_collection(name, metadata={"hnsw:space": "cosine"}, embedding_function=None)
    try:
        for s in range(0, len(vectors), 5000):
            col.add(ids=[str(i) for i in range(s, min(s + 5000, len(vectors)))], embeddings=vectors[s : s + 5000])
        for q in queries[:5]:
            col.query(query_embeddings=q[None, :], n_results=k, include=["distances"])
        return [_timed(col.query, query_embeddings=q[None, :], n_results=k, include=["distances"]) for q in queries]
    finally:
        client.delete_collection(name)


def run_one(n: int, backend: str, args: argparse.Namespace, chroma: tuple[str, int] | None) -> dict[str, Any]:
    """One size on one backend: floors, build, the loop. Meant to run in its own process."""
    from zettelmem import Memory, Scope

    tag = uuid.uuid4().hex[:10]
    scope = Scope(user_id=f"agentloop-{tag}")
    memories = synth_memories(n + args.steps)
    build, steps = memories[:n], memories[n:]
    q_after, q_quiet = synth_queries(args.steps, seed=11), synth_queries(args.steps, seed=23)
    k = 10
    with tempfile.TemporaryDirectory(prefix="zm-agentloop-") as tmpdir:
        tmp = Path(tmpdir)
        settings = _settings(backend, tmp / "home", args.embedding, chroma, f"agentloop-{tag}")
        if backend == "server":
            from zettelmem.stores.neo4j import Neo4jGraphStore

            with Neo4jGraphStore(settings.graph) as store:
                store.setup()
        mem = Memory(settings)
        try:
            embedder = mem.aio.embedder
            sample = [m["content"] for m in build[: min(n, 4096)]]
            embedder.embed(sample[:64])  # warm up
            t = time.perf_counter()
            for s in range(0, len(sample), args.build_batch):
                embedder.embed(sample[s : s + args.build_batch])
            embed_floor = len(sample) / (time.perf_counter() - t)

            done = [0]

            def progress(d: int, total: int) -> None:
                if d - done[0] >= max(1000, total // 10) or d == total:
                    done[0] = d
                    print(f"  {backend} {n}: built {d}/{total}", file=sys.stderr, flush=True)

            t = time.perf_counter()
            mem.add_many(build, scope=scope, batch_size=args.build_batch, progress=progress)
            build_s = time.perf_counter() - t
            mem.search(q_quiet[0], scope=scope, k=k)  # first search of the process (loads what it loads)
            add, after, quiet = [], [], []
            for item, qa, qq in zip(steps, q_after, q_quiet, strict=True):
                add.append(_timed(mem.add, item["content"], scope, event_time=item["event_time"],
                                  provenance=item["provenance"]))
                after.append(_timed(mem.search, qa, scope=scope, k=k))
                quiet.append(_timed(mem.search, qq, scope=scope, k=k))
            rss = peak_rss_mb()
            notes = mem.stats(scope)["notes"]
            qembed = [_timed(embedder.embed, [q]) for q in q_after + q_quiet]
            index = mem.aio.vectors
            ids = sorted(index.ids(scope))
            got = {}
            for s in range(0, len(ids), 5000):
                got.update(index.get_vectors(ids[s : s + 5000], scope))
            vectors = np.stack([got[i] for i in ids])
            bare = _bare_hnsw(vectors, embedder.embed(q_after), k, tmp, chroma)
        finally:
            if backend == "server":
                from zettelmem.testing import drop_chroma_index, purge_neo4j

                purge_neo4j(mem.aio.graph, [scope], tag)
                drop_chroma_index(mem.aio.vectors._client, f"agentloop-{tag}")  # type: ignore[attr-defined]
            mem.close()
    return {
        "backend": backend, "n": n, "notes": notes, "steps": args.steps, "build_s": build_s,
        "ingest_per_s": n / build_s, "embed_per_s": embed_floor,
        "add_p50": pct_ms(add, 50), "add_p95": pct_ms(add, 95),
        "after_p50": pct_ms(after, 50), "after_p95": pct_ms(after, 95),
        "quiet_p50": pct_ms(quiet, 50), "quiet_p95": pct_ms(quiet, 95),
        "qembed_p50": pct_ms(qembed, 50), "qembed_p95": pct_ms(qembed, 95),
        "hnsw_p50": pct_ms(bare, 50), "hnsw_p95": pct_ms(bare, 95), "peak_rss_mb": rss,
    }


def table(rows: list[dict[str, Any]]) -> str:
    out = ["| backend | N | build s | add p50 / p95 ms | search after write p50 / p95 ms | "
           "search, no write before p50 / p95 ms | query embedding p50 / p95 ms | bare HNSW top-10 p50 / p95 ms | "
           "ingest notes/s (embedding floor) | peak RSS MB |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        out.append(
            f"| {r['backend']} | {r['n']:,} | {r['build_s']:.1f} | {r['add_p50']:.1f} / {r['add_p95']:.1f} | "
            f"{r['after_p50']:.1f} / {r['after_p95']:.1f} | {r['quiet_p50']:.1f} / {r['quiet_p95']:.1f} | "
            f"{r['qembed_p50']:.2f} / {r['qembed_p95']:.2f} | {r['hnsw_p50']:.2f} / {r['hnsw_p95']:.2f} | "
            f"{r['ingest_per_s']:.0f} ({r['embed_per_s']:.0f}) | {r['peak_rss_mb']:.0f} |")
    return "\n".join(out)


def ratios(rows: list[dict[str, Any]]) -> str:
    out = ["| backend | N | search after write ÷ no write (goal ≤ 1.2) | add p50 ÷ floor (≤ 2) | "
           "search p50 ÷ floor (≤ 2) | ingest ÷ embedding floor (≥ 0.8) |", "|---|---|---|---|---|---|"]
    for r in rows:
        floor = r["qembed_p50"] + r["hnsw_p50"]
        out.append(f"| {r['backend']} | {r['n']:,} | {r['after_p50'] / r['quiet_p50']:.2f} | "
                   f"{r['add_p50'] / floor:.1f} | {r['quiet_p50'] / floor:.1f} | "
                   f"{r['ingest_per_s'] / r['embed_per_s']:.2f} |")
    return "\n".join(out) + "\n\nfloor = query embedding p50 + bare HNSW top-10 p50, measured in the same process."


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1000,10000")
    ap.add_argument("--backends", default="embedded", help="comma list of: " + ", ".join(BACKENDS))
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--build-batch", type=int, default=256)
    ap.add_argument("--embedding", choices=["onnx", "hashing"], default="onnx")
    ap.add_argument("--chroma-url", default=None, help="host:port of a Chroma server (else one is started)")
    ap.add_argument("--json", type=Path, help="also write the rows as JSON here")
    ap.add_argument("--child", help=argparse.SUPPRESS)  # "N,backend,host:port": one run, JSON on stdout
    args = ap.parse_args(argv)
    if args.child:
        n, backend, where = args.child.split(",")
        host, _, port = where.partition(":")
        row = run_one(int(n), backend, args, (host, int(port)) if host else None)
        print("ROW " + json.dumps(row), flush=True)
        return 0
    backends = [b for b in args.backends.split(",") if b]
    if unknown := set(backends) - set(BACKENDS):
        ap.error(f"unknown backend(s) {sorted(unknown)}")
    rows: list[dict[str, Any]] = []
    print(f"# agent loop — {machine()}; synthetic chat memories, offline agents, embedding {args.embedding}, "
          f"{args.steps} steps, build batch {args.build_batch}", flush=True)
    with tempfile.TemporaryDirectory(prefix="zm-agentloop-srv-") as tmp:
        for backend in backends:
            with (chroma_server(args.chroma_url, Path(tmp)) if backend == "server" else _none()) as chroma:
                for n in [int(x) for x in args.sizes.split(",") if x]:
                    where = f"{chroma[0]}:{chroma[1]}" if chroma else ""
                    child = [sys.executable, "-m", "bench.agent_loop", "--child", f"{n},{backend},{where}",
                             "--steps", str(args.steps), "--build-batch", str(args.build_batch),
                             "--embedding", args.embedding]
                    proc = subprocess.run(child, stdout=subprocess.PIPE, text=True, check=False)
                    line = next((x for x in proc.stdout.splitlines() if x.startswith("ROW ")), None)
                    if proc.returncode != 0 or line is None:
                        print(f"{backend} at {n}: the run failed (exit {proc.returncode})", file=sys.stderr)
                        return 1
                    rows.append(json.loads(line[4:]))
                    print(table(rows[-1:]).splitlines()[-1], file=sys.stderr, flush=True)
    print(table(rows))
    print()
    print(ratios(rows))
    if args.json:
        args.json.write_text(json.dumps({"machine": machine(), "args": vars(args), "rows": rows}, indent=1,
                                        default=str))
    return 0


@contextmanager
def _none() -> Iterator[None]:
    yield None


if __name__ == "__main__":
    sys.exit(main())
