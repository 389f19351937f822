"""LangGraph's own store tests (upstream, fetched at run time) and the graph wiring smoke test.

Both run as subprocesses of the shared harness in ``<repo>/../shared/conformance``
(see its README), against ``zettelmem.testing.langgraph:make_store``. Deliberate deviations
would be listed in ``tests/lgstore.expected-failures.txt``; the list is empty.
The upstream tests come from the sdists matching the installed langgraph-checkpoint
packages, cached in ``~/.cache/zettelmem/lgstore-conformance``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HARNESS = ROOT.parent / "shared" / "conformance"
EXPECTED_FAILURES = ROOT / "tests" / "lgstore.expected-failures.txt"
FACTORY = "zettelmem.testing.langgraph:make_store"
SUITES = ("checkpoint", "sqlite", "postgres")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def harness() -> Path:
    if not (HARNESS / "run_upstream_store_tests.py").exists():
        reason = f"the LangGraph conformance harness is not at {HARNESS}"
        if os.environ.get("ZETTELMEM_REQUIRE_SERVERS") == "1":
            pytest.fail(f"ZETTELMEM_REQUIRE_SERVERS=1 but {reason}", pytrace=False)
        pytest.skip(reason)
    return HARNESS


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)  # the harness builds its own path; ours would shadow upstream's `tests`
    return env


def test_upstream_langgraph_store_tests_pass(harness: Path, tmp_path: Path) -> None:
    cache = Path.home() / ".cache" / "zettelmem" / "lgstore-conformance"
    cache.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable, str(harness / "run_upstream_store_tests.py"),
        "--store", FACTORY, "--pythonpath", str(ROOT),
        "--suites", ",".join(SUITES),  # explicit: a suite that cannot run is an error, not a skip
        "--expect-fail", str(EXPECTED_FAILURES),
        # beyond the defaults: every distance type PostgresStore offers, and SQLite's dotted filter keys
        "--distance-types", "cosine,inner_product,l2", "--add-categories", "extension",
        "--workdir", str(tmp_path / "work"), "--cache-dir", str(cache), "--timeout", "900",
    ]
    proc = subprocess.run(cmd, cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=2400)
    tail = (proc.stdout + proc.stderr)[-6000:]
    assert proc.returncode == 0, tail
    summary = json.loads((tmp_path / "work" / "summary.json").read_text())
    for suite in SUITES:
        info = summary["suites"][suite]
        assert info["status"] == "ran", (suite, info)
        counts = info["counts"]
        assert counts["passed"] > 0 and not (counts["failed"] or counts["error"] or counts["not-run"]), (suite, counts)
    assert summary["totals"]["xpassed"] == 0, "a listed expected failure now passes: remove it from the list"


def test_graph_integration_smoke(harness: Path) -> None:
    cmd = [sys.executable, str(harness / "graph_integration_smoke.py"), "--store", FACTORY, "--pythonpath", str(ROOT)]
    proc = subprocess.run(cmd, cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert "FAIL" not in proc.stdout
