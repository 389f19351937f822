"""What-if search runs on the LoCoMo tuning set: build each store once, re-run only the searches.

Building a store (adding ~600 turns with linking, evolution and consolidation) is the
expensive part of ``bench.locomo_recall``; search settings do not change the store.
This harness ingests each conversation of the *tuning* set (0-4, never the held-out
5-9) once into ``--home`` (topic notes on, like the ``zettelmem`` variant), then scores
every ``--variants`` entry (a JSON object of :class:`~zettelmem.config.SearchConfig`
overrides) on categories 1-4, against the original evidence, scoring a topic note
once with its members' turns (as ``bench.locomo_recall`` does)::

    nice python -m bench.locomo_whatif --home /tmp/zm-whatif --variants '{}' '{"ms_enabled": true}'

Prints per variant: per-category R@10, overall R@10/R@20, multi-hop H@20/R@20 and the
median search latency.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.locomo_data import KS, Conversation, Scores, load_locomo, parse_conversations
from bench.locomo_recall import hit_turn_ids, hit_turn_ids_of_note
from bench.locomo_tune import ingest as tune_ingest

if TYPE_CHECKING:
    from zettelmem.config import SearchConfig

TUNING = (0, 1, 2, 3, 4)


def ingest(home: Path, conv: Conversation) -> None:
    """Add every turn, session by session, with topic notes on (skipped when ``home`` is built)."""
    from zettelmem.config import ConsolidationConfig

    tune_ingest(home, conv, consolidation=ConsolidationConfig(enabled=True))


def search_config(base: SearchConfig, update: dict[str, Any]) -> SearchConfig:
    """``base`` with ``update`` applied (keys ``ms_X`` set ``multistep.X``), validated."""
    fields = base.model_dump()
    for key, value in update.items():
        if key.startswith("ms_"):
            fields["multistep"][key[3:]] = value
        else:
            fields[key] = value
    from zettelmem.config import SearchConfig

    return SearchConfig.model_validate(fields)


def main(argv: Sequence[str] | None = None) -> int:
    from zettelmem import Memory, Scope, Settings
    from zettelmem.config import ConsolidationConfig

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--home", default="/tmp/zm-whatif")
    ap.add_argument("--conversations", default="0-4", help="a subset of the tuning set 0-4")
    ap.add_argument("--variants", nargs="*", default=["{}"], help="JSON SearchConfig overrides, one per variant")
    ap.add_argument("--max-questions", type=int, default=None)
    args = ap.parse_args(argv)
    selected = parse_conversations(args.conversations)
    if any(c not in TUNING for c in selected):
        ap.error("tune on conversations 0-4 only: 5-9 are held out")
    convs = load_locomo()
    scores = Scores()
    latency: dict[str, list[float]] = {v: [] for v in args.variants}
    for ci in selected:
        ingest(Path(args.home) / convs[ci].sample_id, convs[ci])
    for v in args.variants:  # variant by variant, each printed when done
        for ci in selected:
            conv = convs[ci]
            home = Path(args.home) / conv.sample_id
            scope = Scope(user_id=conv.sample_id)
            qas = [qa for qa in conv.qa[: args.max_questions] if qa.evidence and qa.category != 5]
            settings = Settings(home=home, consolidation=ConsolidationConfig(enabled=True))
            settings.search = search_config(settings.search, json.loads(v))
            with Memory(settings) as mem:
                turns_of = {n.id: hit_turn_ids_of_note(n) for n in mem.list(scope)}  # bench only: the scorer's map
                for qa in qas:
                    t0 = time.perf_counter()
                    hits = mem.search(qa.question, scope=scope, k=max(KS))
                    latency[v].append(time.perf_counter() - t0)
                    scores.add(v, ci, qa, [hit_turn_ids(h, turns_of) for h in hits])
        m, n = scores.mean(v, [1, 2, 3, 4])
        mh, _ = scores.mean(v, [1])
        cats = " ".join(f"c{c}:{scores.mean(v, [c])[0]['recall@10']:.3f}" for c in (1, 2, 3, 4))
        p50 = 1000 * statistics.median(latency[v])
        print(f"{v:60s} {cats} n={n} R@10 {m['recall@10']:.3f} R@20 {m['recall@20']:.3f} "
              f"| MH H@20 {mh['hit@20']:.3f} R@20 {mh['recall@20']:.3f} | p50 {p50:.0f} ms", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
