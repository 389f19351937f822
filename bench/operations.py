"""Operation-level benchmark: updates, look-alikes, duplicates and deletions (LLM-free).

Each labelled case (``bench/ops_data.py``, committed in ``bench/data/``) is added
to its own scope, then queried; deletions are forgotten, and after every case
the home folder is searched for the deleted markers. Two systems on the same
cases, in the same run:

* ``zettelmem`` -- offline agents with truth maintenance (supersede, merge,
  repeat) and ``forget``;
* ``baseline`` -- the same engine storing everything (``agents.truth`` off,
  superseded factor 1): vector + lexical search, deletion by ``delete``.

Metrics (k = ``--k``):

* update accuracy -- the current fact is in the top k and above the stale one;
* stale leakage -- the stale fact is in the top k without being marked
  superseded (``valid_to`` unset);
* false supersession -- look-alike cases where a fact that must stay was
  closed or merged (and the same over every distractor memory);
* duplicate precision / recall -- memories folded into an older note;
* deletion completeness -- hard: the marker is in no file of the home folder
  and not returned by search; soft: hidden from search, still readable by id.

    python -m bench.operations --split test           # held-back seed (report)
    python -m bench.operations --split tune           # the seed the detector was tuned on
    python -m bench.operations --limit 24 --k 5       # a quick slice
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.ops_data import load_cases

SYSTEMS = ("zettelmem", "baseline")


def _settings(system: str, home: Path) -> Any:
    from zettelmem.config import Settings

    s = Settings(home=home, use_llm=False)
    if system == "baseline":
        s.agents.truth = False
        s.search.superseded_weight = 1.0
    return s


def _files_with(home: Path, markers: Iterable[str]) -> dict[str, list[str]]:
    """marker -> files of the home folder that hold it (any case)."""
    wanted = {m: [m.encode(), m.lower().encode()] for m in markers}
    found: dict[str, list[str]] = {m: [] for m in wanted}
    for path in home.rglob("*"):
        if not path.is_file():
            continue
        data = path.read_bytes()
        for m, forms in wanted.items():
            if any(f in data for f in forms):
                found[m].append(str(path.relative_to(home)))
    return found


def run_system(system: str, cases: list[dict[str, Any]], k: int) -> dict[str, Any]:
    from zettelmem import Memory
    from zettelmem.agents.base import MemoryInput
    from zettelmem.errors import NoteNotFound
    from zettelmem.models import Provenance, Scope

    home = Path(tempfile.mkdtemp(prefix=f"zm-ops-{system}-"))
    out: dict[str, Any] = {"rows": []}
    t0 = time.perf_counter()
    markers: dict[str, str] = {}
    mem = Memory(_settings(system, home))
    try:
        for case in cases:
            scope = Scope(user_id=case["id"])
            items = [MemoryInput(content=m["content"], scope=scope, event_time=datetime.fromisoformat(m["event_time"]),
                                 provenance=Provenance(speaker=m["speaker"], source=f"{case['id']}#{j}"))
                     for j, m in enumerate(case["memories"])]
            results = mem.add_many(items, scope)
            ids = [r.note.id for r in results]
            row: dict[str, Any] = {"id": case["id"], "kind": case["kind"], "group": case["group"]}
            # a memory folded into an older note returns that note: merged[j] = index it joined
            first: dict[str, int] = {}
            merged: dict[int, int] = {}
            for j, i in enumerate(ids):
                if i in first:
                    merged[j] = first[i]
                else:
                    first[i] = j
            row["merged"] = merged
            notes = {i: mem.get(i, scope) for i in set(ids)}
            row["closed"] = sorted(j for j, i in enumerate(ids) if notes[i].valid_to is not None and j not in merged)
            if case["group"] == "delete":
                target = ids[case["forget"]]
                markers[case["id"]] = case["marker"]
                if system == "zettelmem":
                    mem.forget(target, scope, hard=case["hard"])
                else:
                    mem.delete(target, scope)
                hits = mem.search(case["query"], scope, k=k)
                row["returned"] = any(h.note.id == target for h in hits)
                try:
                    mem.get(target, scope)
                    row["readable"] = True
                except NoteNotFound:
                    row["readable"] = False
            else:
                hits = mem.search(case["query"], scope, k=k)
                rank = {h.note.id: r for r, h in enumerate(hits)}
                cur = ids[case["current"]]
                row["rank_current"] = rank.get(cur)
                if case["group"] == "update":
                    stale = ids[case["stale"][0]]
                    row["rank_stale"] = rank.get(stale) if stale != cur else None
                    row["stale_marked"] = notes[stale].valid_to is not None
            out["rows"].append(row)
        out["seconds"] = time.perf_counter() - t0
        found = _files_with(home, markers.values())  # while open: what a copy of the folder would show
        for row in out["rows"]:
            if row["id"] in markers:
                row["marker_files"] = found[markers[row["id"]]]
    finally:
        mem.close()
    shutil.rmtree(home, ignore_errors=True)
    return out


def _share(num: int, den: int) -> str:
    return f"{num / den:.3f} ({num}/{den})" if den else "n/a"


def metrics(cases: list[dict[str, Any]], run: dict[str, Any]) -> dict[str, str]:
    by_id = {c["id"]: c for c in cases}
    rows = run["rows"]
    upd = [r for r in rows if r["group"] == "update"]
    ok = sum(1 for r in upd if r["rank_current"] is not None
             and (r["rank_stale"] is None or r["rank_current"] < r["rank_stale"]))
    leak = sum(1 for r in upd if r["rank_stale"] is not None and not r["stale_marked"])
    look = [r for r in rows if r["group"] == "lookalike"]

    def harmed(r: dict[str, Any], keep: Iterable[int]) -> bool:
        """A memory that must stay was closed, or merged in a pair the labels do not call duplicates."""
        keep = set(keep)
        dups = {(int(j), t) for j, t in by_id[r["id"]].get("duplicate_of", {}).items()}
        wrong = {x for j, t in r["merged"].items() if (int(j), t) not in dups for x in (int(j), t)}
        return bool(keep & set(r["closed"])) or bool(keep & wrong)

    false_look = sum(1 for r in look if harmed(r, by_id[r["id"]]["keep"]))
    distract = [(r, j) for r in rows for j in by_id[r["id"]]["keep"] if r["group"] != "lookalike"]
    false_distract = sum(1 for r, j in distract if harmed(r, [j]))
    labelled = {(r["id"], int(j), t) for r in rows for j, t in by_id[r["id"]].get("duplicate_of", {}).items()}
    predicted = {(r["id"], int(j), t) for r in rows for j, t in r["merged"].items()}
    tp = len(labelled & predicted)
    exact = [x for x in labelled if by_id[x[0]]["kind"] == "duplicate_exact"]
    hard = [r for r in rows if r["group"] == "delete" and by_id[r["id"]]["hard"]]
    soft = [r for r in rows if r["group"] == "delete" and not by_id[r["id"]]["hard"]]
    return {
        "update accuracy": _share(ok, len(upd)),
        "stale leakage": _share(leak, len(upd)),
        "false supersession (look-alikes)": _share(false_look, len(look)),
        "false supersession (distractors)": _share(false_distract, len(distract)),
        "duplicate precision": _share(tp, len(predicted)),
        "duplicate recall": _share(tp, len(labelled)),
        "  exact repeats recall": _share(len(set(exact) & predicted), len(exact)),
        "deletion completeness (hard)": _share(
            sum(1 for r in hard if not r["marker_files"] and not r["returned"] and not r["readable"]), len(hard)),
        "deletion completeness (soft: hidden, kept)": _share(
            sum(1 for r in soft if not r["returned"] and r["readable"]), len(soft)),
        "seconds": f"{run['seconds']:.1f}",
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", choices=["tune", "test"], default="test")
    ap.add_argument("--limit", type=int, default=None, help="an even slice of every kind")
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--systems", default=",".join(SYSTEMS))
    ap.add_argument("--json", type=Path, default=None, help="also write per-case rows here")
    args = ap.parse_args(argv)
    cases = load_cases(args.split, args.limit)
    systems = [s for s in args.systems.split(",") if s]
    runs = {}
    for system in systems:
        print(f"[{system}] {len(cases)} cases...", file=sys.stderr)
        runs[system] = run_system(system, cases, args.k)
    table = {s: metrics(cases, runs[s]) for s in systems}
    print(f"Operations benchmark, split {args.split!r} ({len(cases)} cases), top-{args.k}\n")
    print("| metric | " + " | ".join(systems) + " |")
    print("|---|" + "---|" * len(systems))
    for name in table[systems[0]]:
        print(f"| {name} | " + " | ".join(table[s][name] for s in systems) + " |")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({s: runs[s]["rows"] for s in systems}, indent=1))


if __name__ == "__main__":
    main()
