"""Tune zettelmem's search knobs on the LoCoMo *tuning* set (conversations 0-4 only).

Ingests each conversation once into a persistent folder (``--home``), then scores
search variants (SearchConfig overrides) on categories 1-4 without re-ingesting:

    python bench/locomo_tune.py --home /tmp/zm-tune --variants '{}' '{"dense_weight": 0.7}'

Keys ``fts_note`` / ``fts_thread`` set the embedded store's bm25() column weights
(``NOTE_WEIGHTS`` / ``THREAD_WEIGHTS`` of :mod:`zettelmem.stores.networkx_store`).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from bench.locomo_data import KS, Conversation, Scores, load_locomo, memory_text
from bench.locomo_recall import hit_turn_ids, log

TUNING = range(5)


def _default_weights() -> tuple[tuple[float, ...], tuple[float, ...]]:
    from zettelmem.stores import networkx_store

    return networkx_store.NOTE_WEIGHTS, networkx_store.THREAD_WEIGHTS


DEFAULT_WEIGHTS = _default_weights()


def ingest(home: Path, conv: Conversation, **fields: Any) -> None:
    """Add a conversation session by session to a store in ``home`` (once: a ``done`` file marks it).

    ``fields``: more Settings fields (``locomo_whatif`` turns consolidation on).
    """
    from zettelmem import Memory, Provenance, Scope, Settings

    if (home / "done").exists():
        return
    t0 = time.perf_counter()
    with Memory(Settings(home=home, **fields)) as mem:
        scope = Scope(user_id=conv.sample_id)
        for session in conv.sessions:
            turns = [t for t in conv.turns if t.session == session]
            mem.add_many([dict(content=memory_text(t), event_time=t.time,
                               provenance=Provenance(source=t.dia_id, session=str(t.session),
                                                     speaker=t.speaker, turn=t.turn)) for t in turns], scope=scope)
    (home / "done").write_text("ok")
    log(f"ingested {conv.sample_id} in {time.perf_counter() - t0:.0f}s")


def main() -> int:
    from zettelmem import Memory, Scope, Settings

    ap = argparse.ArgumentParser()
    ap.add_argument("--home", default="/tmp/zm-tune")
    ap.add_argument("--variants", nargs="*", default=["{}"])
    args = ap.parse_args()
    convs = load_locomo()
    scores = Scores()
    for ci in TUNING:
        conv = convs[ci]
        home = Path(args.home) / conv.sample_id
        ingest(home, conv)
        for v in args.variants:
            from zettelmem.stores import networkx_store

            update = json.loads(v)
            networkx_store.NOTE_WEIGHTS = tuple(update.pop("fts_note", DEFAULT_WEIGHTS[0]))
            networkx_store.THREAD_WEIGHTS = tuple(update.pop("fts_thread", DEFAULT_WEIGHTS[1]))
            settings = Settings(home=home)
            settings.search = settings.search.model_copy(update=update)
            with Memory(settings) as mem:
                for qa in conv.qa:
                    if not qa.evidence or qa.category == 5:
                        continue
                    hits = mem.search(qa.question, scope=Scope(user_id=conv.sample_id), k=max(KS))
                    scores.add(v, ci, qa, [hit_turn_ids(h) for h in hits])
    for v in args.variants:
        m, n = scores.mean(v, [1, 2, 3, 4])
        mh, _ = scores.mean(v, [1])
        cats = " ".join(f"c{c}:{scores.mean(v, [c])[0]['recall@10']:.3f}" for c in (1, 2, 3, 4))
        print(f"{v:60s} {cats} n={n} R@1 {m['recall@1']:.3f} R@5 {m['recall@5']:.3f} R@10 {m['recall@10']:.3f} "
              f"R@20 {m['recall@20']:.3f} | MH R@10 {mh['recall@10']:.3f} H@20 {mh['hit@20']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
