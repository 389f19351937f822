"""mypy --strict stays clean on the package, and the public API keeps its types.

``tests/typecheck/`` holds files mypy checks but pytest never runs: ``assert_type``
on every mirrored ``Memory`` method (they were ``Any`` once) and wrong calls that
must stay errors (an unused ``type: ignore`` is itself an error under --strict).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def mypy(*targets: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mypy", "--strict", *targets], cwd=ROOT, capture_output=True,
                          text=True, timeout=900)


def test_mypy_strict_is_clean_on_the_package_and_the_typed_api():
    proc = mypy("zettelmem", "tests/typecheck")
    assert proc.returncode == 0, proc.stdout[-3000:]
