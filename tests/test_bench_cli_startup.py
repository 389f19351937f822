"""bench/cli_startup.py runs (one run per command) and prints every row; no timing is asserted."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_cli_startup_bench_smoke() -> None:
    proc = subprocess.run([sys.executable, "-m", "bench.cli_startup", "--runs", "1"], capture_output=True,
                          text=True, timeout=900, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for row in ("python -c pass (floor)", "eager imports (old start-up)", "zettelmem --help", "zettelmem show ID",
                "zettelmem stats", "zettelmem search"):
        assert f"| {row} |" in proc.stdout, proc.stdout
