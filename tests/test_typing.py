"""mypy --strict stays clean on the package (STYLE.md: a typed public API)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_mypy_strict_is_clean():
    proc = subprocess.run([sys.executable, "-m", "mypy", "zettelmem"], cwd=ROOT, capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:]
