"""Every README code block runs as written.

THE RULE (for everyone who edits README.md):

* A fenced block tagged ``python`` is run with this interpreter, as its own
  script, in a fresh empty temporary folder (the working directory), with
  ``ZETTELMEM_HOME`` pointing inside it and no ``ZETTELMEM_LLM_*`` variables.
* A fenced block tagged ``bash`` is run with ``bash -euo pipefail`` the same way,
  with this interpreter's ``bin`` folder first on ``PATH`` (so ``zettelmem`` and
  ``python`` are the installed ones).
* Each block is complete on its own: it imports and creates what it uses and
  never relies on an earlier block.
* Shell that needs servers, network, Docker, the repository checkout, or that
  installs packages is tagged ``console`` (or ``text``): shown, never run.
  Other shown-only tags: ``text``, ``json``, ``toml``, ``mermaid``, ``cypher``.
* A block with no tag, or any other tag, fails this test: choose one.

A block that exits non-zero (or runs over :data:`TIMEOUT`) fails with its
output. Block ids are ``<section heading>:<n>`` for readable test names.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
RUN = {"python", "bash"}
SHOWN = {"console", "text", "json", "toml", "mermaid", "cypher"}
TIMEOUT = 300

_FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```\s*$", re.M | re.S)


def readme_blocks(text: str) -> list[tuple[str, str, str]]:
    """``(id, language, code)`` of every fenced block, in order."""
    out: list[tuple[str, str, str]] = []
    heading, count = "top", 0
    pos = 0
    for m in _FENCE.finditer(text):
        for h in re.finditer(r"^#+\s+(.+)$", text[pos:m.start()], re.M):
            heading, count = re.sub(r"[^a-z0-9]+", "-", h.group(1).lower()).strip("-"), 0
        pos = m.end()
        count += 1
        out.append((f"{heading}:{count}", m.group(1).strip().lower(), m.group(2)))
    return out


BLOCKS = readme_blocks(README.read_text(encoding="utf-8"))


def test_readme_has_runnable_blocks():
    langs = [lang for _, lang, _ in BLOCKS]
    assert "python" in langs and "bash" in langs


def test_every_block_is_classified():
    bad = [(bid, lang) for bid, lang, _ in BLOCKS if lang not in RUN | SHOWN]
    assert not bad, f"README blocks need a tag from {sorted(RUN | SHOWN)} (see tests/test_readme.py): {bad}"


def test_block_parser_sees_fences_and_headings():
    text = "# A\n```python\nprint(1)\n```\n## B b\n```bash\necho 2\n```\n```text\nx\n```\n"
    assert readme_blocks(text) == [("a:1", "python", "print(1)\n"), ("b-b:1", "bash", "echo 2\n"),
                                   ("b-b:2", "text", "x\n")]


@pytest.fixture
def block_env(tmp_path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZETTELMEM_")}
    env["ZETTELMEM_HOME"] = str(tmp_path / "zettelmem-home")
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["HOME"] = str(tmp_path)  # nothing leaks into the real ~/.zettelmem
    env.pop("PYTHONPATH", None)
    return env


@pytest.mark.slow
@pytest.mark.parametrize(("bid", "lang", "code"), [b for b in BLOCKS if b[1] in RUN], ids=[b[0] for b in BLOCKS if b[1] in RUN])
def test_readme_block_runs(bid, lang, code, tmp_path, block_env):
    script = tmp_path / ("block.py" if lang == "python" else "block.sh")
    script.write_text(code, encoding="utf-8")
    cmd = [sys.executable, str(script)] if lang == "python" else ["bash", "-euo", "pipefail", str(script)]
    work = tmp_path / "work"
    work.mkdir()
    proc = subprocess.run(cmd, cwd=work, env=block_env, capture_output=True, text=True, timeout=TIMEOUT)
    assert proc.returncode == 0, f"README block {bid} ({lang}) failed:\n{code}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"
