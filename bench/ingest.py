"""First timing: ingest and search on the bundled dialogue, beside a bare Chroma query.

Also shows that durability does not cost O(store size) per add: the latency of a
single durable ``add`` (one SQLite WAL transaction + one Chroma upsert) is
measured after the store was pre-filled to several sizes.

    python bench/ingest.py                 # dialogue + durability at 0, 1k, 5k notes
    python bench/ingest.py --fill 0,1000   # smaller
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np

QUERIES = ["Where did they move?", "What pet was adopted?", "What does she do for work?",
           "When is the trip planned?", "Who recommended the restaurant?"]


def dialogue() -> list[dict[str, Any]]:
    text = files("zettelmem.data").joinpath("dialogue.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:.1f} / {np.percentile(values, 95) * 1000:.1f}"


def main(argv: list[str] | None = None) -> int:
    from bench.bench_common import bare_chroma_latency, machine, synth_texts
    from zettelmem import Memory, Provenance, Scope, Settings
    from zettelmem.models import new_id
    from zettelmem.stores.base import PutNotes

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--fill", default="0,1000,5000")
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args(argv)
    print(f"# ingest benchmark — {machine()}, offline agents")
    turns = dialogue()
    scope = Scope(user_id="bench")
    items = [dict(content=f"{t['speaker']}: {t['content']}", event_time=t.get("time"),
                  provenance=Provenance(session=str(t.get("session")), turn=t.get("turn"), speaker=t["speaker"]))
             for t in turns]
    with tempfile.TemporaryDirectory() as tmp:
        mem = Memory(Settings(home=Path(tmp) / "d"))
        t = time.perf_counter()
        res = mem.add_many(items, scope=scope)
        dt = time.perf_counter() - t
        lat = []
        for q in QUERIES * 4:
            t = time.perf_counter()
            mem.search(q, scope=scope, k=10)
            lat.append(time.perf_counter() - t)
        vecs = mem.aio.embedder.embed([str(i["content"]) for i in items])
        qv = mem.aio.embedder.embed(QUERIES * 4)
        bare = bare_chroma_latency(vecs, qv, Path(tmp) / "bare")
        mem.close()
        print("\n## bundled dialogue")
        print("| what | value |\n|---|---|")
        print(f"| turns ingested (add_many) | {len(res)} in {dt:.2f} s = {len(res) / dt:.0f} memories/s |")
        print(f"| links / evolution steps | {sum(len(r.links) for r in res)} / {sum(len(r.changes) for r in res)} |")
        print(f"| zettelmem hybrid search p50 / p95 (ms) | {ms(lat)} |")
        print(f"| bare Chroma query p50 / p95 (ms), same vectors | {ms(bare)} |")

        print("\n## durable single add vs store size (what add() costs once acknowledged)")
        print("add() includes the scoped Chroma candidate query, which grows with the collection "
              "(see the bare Chroma floor in scale.py); the durable graph commit alone is the last column.")
        print("| notes already stored | add() p50 / p95 (ms) | graph commit (one SQLite WAL transaction) p50 / p95 (ms) |")
        print("|---|---|---|")

        mem = Memory(Settings(home=Path(tmp) / "grow"))
        have = 0
        pool = synth_texts(max(int(x) for x in args.fill.split(",")), seed=3)
        singles = iter(synth_texts(args.repeat * 10, seed=11))
        for size in [int(x) for x in args.fill.split(",")]:
            if size > have:
                mem.add_many(pool[have:size], scope=scope, batch_size=128)
                have = size
            lat, commit = [], []
            for _ in range(args.repeat):
                t = time.perf_counter()
                note = mem.add(next(singles), scope=scope).note
                lat.append(time.perf_counter() - t)
                copy = note.model_copy(update={"id": new_id()})
                t = time.perf_counter()
                mem.aio.graph.batch([PutNotes((copy,))])
                commit.append(time.perf_counter() - t)
                mem.aio.graph.delete_notes(scope, [copy.id])
            print(f"| {size:,} | {ms(lat)} | {ms(commit)} |", flush=True)
        mem.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
