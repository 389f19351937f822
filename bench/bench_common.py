"""Helpers shared by the benchmarks: the bare-Chroma baseline, percentiles, machine line."""

from __future__ import annotations

import os
import platform
import random
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from zettelmem.models import Provenance

__all__ = ["bare_chroma_latency", "machine", "pct_ms", "synth_memories", "synth_queries", "synth_texts"]


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


# -- synthetic but realistic chat memories (people, places, events, pets, facts) ----------------
NAMES = ["Alice", "Bob", "Caroline", "Dmitri", "Elena", "Farah", "Gustavo", "Hana", "Ivan", "Jun", "Keiko", "Liam",
         "Maya", "Noah", "Olga", "Pedro"]
PLACES = ["Lisbon", "Porto", "Kyoto", "Nairobi", "Oslo", "Denver", "Lyon", "Seoul", "Cusco", "Hanoi", "Austin",
          "Tbilisi", "Accra", "Tallinn"]
EVENTS = ["a pottery class", "the marathon", "a jazz concert", "the farmers market", "a coding bootcamp",
          "my sister's wedding", "a camping trip", "the book club", "a job interview", "a violin lesson",
          "the climbing gym", "a charity run", "a cooking workshop", "the art museum", "a hackathon",
          "a night hike", "the film festival", "a chess tournament"]
FEELINGS = ["it was exhausting but worth it", "I can't wait to go back", "the kids loved it",
            "it reminded me of home", "I learned a lot", "we got caught in the rain", "it changed my mind",
            "I was nervous the whole time", "the food was the best part"]
PETS = ["a beagle named Biscuit", "two cats", "a parrot called Kiwi", "a golden retriever", "a tortoise",
        "a rescue greyhound"]
FACTS = ["is allergic to peanuts", "prefers green tea over coffee", "works as a nurse on night shifts",
         "is learning Japanese", "drives an old blue Volvo", "runs every morning before work",
         "is saving up for a sailboat", "volunteers at the animal shelter on Sundays"]


def synth_memories(n: int, seed: int = 7) -> list[dict[str, Any]]:
    """Chat-style memories from a fixed seed, in sessions of about ten turns."""
    rnd = random.Random(seed)
    t0 = datetime(2023, 1, 1, tzinfo=UTC)
    out = []
    for i in range(n):
        who, other = rnd.sample(NAMES, 2)
        where, what = rnd.choice(PLACES), rnd.choice(EVENTS)
        form = rnd.randrange(6)
        if form == 0:
            text = f"{who}: Last weekend I went to {what} in {where}, and {rnd.choice(FEELINGS)}."
        elif form == 1:
            text = f"{who}: Do you remember {what}? My friend {other} from {where} was there too."
        elif form == 2:
            text = f"{who}: I'm planning {what} next month; {other} recommended a place in {where}."
        elif form == 3:
            text = f"{who}: We adopted {rnd.choice(PETS)} after moving to {where}."
        elif form == 4:
            text = f"{who}: By the way, {other} {rnd.choice(FACTS)}."
        else:
            text = f"{who}: My favourite memory is {what} with {other}, {rnd.choice(FEELINGS)}."
        out.append({"content": text, "event_time": t0 + timedelta(hours=3 * i),
                    "provenance": Provenance(session=f"s{i // 10}", turn=i % 10, speaker=who)})
    return out


def synth_queries(n: int, seed: int = 11) -> list[str]:
    rnd = random.Random(seed)
    forms = [
        lambda: f"What did {rnd.choice(NAMES)} do in {rnd.choice(PLACES)}?",
        lambda: f"Who went to {rnd.choice(EVENTS)}?",
        lambda: f"Which pet did {rnd.choice(NAMES)} adopt?",
        lambda: f"What is {rnd.choice(NAMES)} allergic to?",
        lambda: f"plans for next month in {rnd.choice(PLACES)}",
    ]
    return [rnd.choice(forms)() for _ in range(n)]




def synth_texts(n: int, seed: int = 7) -> list[str]:
    """Just the texts of :func:`synth_memories`."""
    return [m["content"] for m in synth_memories(n, seed)]
