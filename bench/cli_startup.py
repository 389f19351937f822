"""CLI start-up: wall and CPU time of short ``zettelmem`` commands, beside their floors.

Each command runs ``--runs`` times as a fresh process on a small store (the
bundled dialogue, ingested once); the median is printed. Baselines measured in
the same run: the bare interpreter (``python -c pass``) and the eager import set
(everything the CLI imported at start-up before it went lazy: engine, exports,
tables, Chroma and onnxruntime). ``--before PYTHON`` also times another
installation (e.g. a checkout of an older commit) on a store of the same
dialogue it builds itself, for a before/after table.

    python -m bench.cli_startup                       # this installation
    python -m bench.cli_startup --before /path/to/old/.venv/bin/python
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.bench_common import machine

EAGER = ("import zettelmem, zettelmem.engine.core, zettelmem.cli._render, zettelmem.export, "
         "chromadb, onnxruntime")


def timed(cmd: list[str], runs: int, cwd: Path) -> tuple[float, float]:
    """Median wall seconds and median CPU seconds (user + system) of ``runs`` runs.

    ``cwd`` is a neutral folder: ``python -m zettelmem`` must import the installation
    being measured, not a checkout in the current directory.
    """
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=cwd)
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
    return statistics.median(walls), statistics.median(cpus)


def commands(python: str, home: Path, note_id: str) -> dict[str, list[str]]:
    cli = [python, "-m", "zettelmem", "--home", str(home), "--offline"]
    return {
        "python -c pass (floor)": [python, "-c", "pass"],
        "eager imports (old start-up)": [python, "-c", EAGER],
        "zettelmem --help": [python, "-m", "zettelmem", "--help"],
        "zettelmem show ID": [*cli, "show", note_id[:8]],
        "zettelmem stats": [*cli, "stats"],
        "zettelmem search": [*cli, "search", "where does Maya live?"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--before", help="another installation's python (its own store, the same dialogue)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="zm-cli-bench-") as tmp:
        pythons = {"now": sys.executable, **({"before": args.before} if args.before else {})}
        results: dict[str, dict[str, tuple[float, float]]] = {}
        for label, python in pythons.items():
            # each installation builds its own store (the bundled dialogue) with `demo`
            home = Path(tmp) / f"home-{label}"
            subprocess.run([python, "-m", "zettelmem", "--offline", "demo", "--home", str(home)],
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp)
            listed = subprocess.run([python, "-m", "zettelmem", "--home", str(home), "search", "pottery", "--json"],
                                    check=True, capture_output=True, text=True, cwd=tmp)
            note_id = json.loads(listed.stdout)[0]["note"]["id"]
            for name, cmd in commands(python, home, note_id).items():
                results.setdefault(name, {})[label] = timed(cmd, args.runs, Path(tmp))
    print(f"# CLI start-up, median of {args.runs} runs — {machine()}")
    cols = list(pythons)
    print("| command | " + " | ".join(f"{c} wall (s) | {c} CPU (s)" for c in cols) + " |")
    print("|---|" + "---|---|" * len(cols))
    for name, by in results.items():
        cells = " | ".join(f"{by[c][0]:.2f} | {by[c][1]:.2f}" for c in cols)
        print(f"| {name} | {cells} |")


if __name__ == "__main__":
    main()
