"""Every notebook in ``notebooks/`` runs top to bottom (nbclient, a kernel of this interpreter)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import ipykernel  # noqa: F401  (test dependency: the kernel the notebooks run in)
import nbclient
import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
KERNEL = "zettelmem-test-python"
TIMEOUT = 300  # seconds per cell; the whole explore notebook takes a few seconds


@pytest.fixture
def kernel_env(tmp_path: Path, monkeypatch) -> Path:
    """A kernel spec for this very interpreter, and a throwaway HOME for the kernel."""
    spec_dir = tmp_path / "jupyter" / "kernels" / KERNEL
    spec_dir.mkdir(parents=True)
    (spec_dir / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "zettelmem tests", "language": "python",
    }))
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("TMPDIR", str(home))  # whatever a notebook leaves in temp stays in pytest's folder
    monkeypatch.setenv("IPYTHONDIR", str(home / ".ipython"))
    monkeypatch.setenv("MPLCONFIGDIR", str(home / ".matplotlib"))
    monkeypatch.setenv("ZETTELMEM_HOME", str(home / ".zettelmem"))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    for key in [k for k in os.environ if k.startswith("ZETTELMEM_LLM")]:
        monkeypatch.delenv(key)
    return tmp_path


def test_there_are_notebooks():
    assert any(p.name == "explore.ipynb" for p in NOTEBOOKS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs_top_to_bottom(path, kernel_env):
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=TIMEOUT, kernel_name=KERNEL,
                                     resources={"metadata": {"path": str(kernel_env)}})
    client.execute()  # raises CellExecutionError, with the cell and traceback, on any error
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    if path.name == "explore.ipynb":
        html = [o["data"]["text/html"] for o in outputs if "text/html" in o.get("data", {})]
        text = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
        assert any("<table" in h for h in html)  # the notes table
        assert any("why:" in h for h in html)  # search hits with their reasons
        assert any("<iframe" in h for h in html)  # the interactive subgraph
        assert any("image/png" in o.get("data", {}) for o in outputs)  # the matplotlib drawing
        assert "why: dense #" in text and "version now:" in text
        assert not (kernel_env / "home" / ".zettelmem").exists()  # it used its own temp folder
        assert not list((kernel_env / "home").glob("zettelmem-notebook-*"))  # and removed it


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_is_committed_with_its_outputs(path):
    """So it reads on GitHub: every code cell ran, in order, without errors or machine-specific paths."""
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert [c.execution_count for c in code] == list(range(1, len(code) + 1)), "run top to bottom, then commit"
    outputs = [o for c in code for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert sum(bool(c.get("outputs")) for c in code) >= len(code) - 1  # only the clean-up cell is silent
    text = json.dumps(outputs)
    assert "/tmp/" not in text and "zettelmem-notebook-" not in text and "/root/" not in text
    if path.name == "explore.ipynb":
        assert any("image/png" in o.get("data", {}) for o in outputs)
        assert any("<iframe" in o.get("data", {}).get("text/html", "") for o in outputs)


def test_readme_lists_the_notebook():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for path in NOTEBOOKS:
        assert f"notebooks/{path.name}" in readme
    assert 'zettelmem[notebook]' in readme
