"""The wheel ships every asset, reachable through importlib.resources; the API is curated."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

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
    for name in zettelmem.__all__:
        assert getattr(zettelmem, name) is not None


def test_json_schema_is_current():
    from zettelmem.schema import SCHEMA_PATH, render

    assert SCHEMA_PATH.read_text(encoding="utf-8") == render(), "run: python -m zettelmem.schema"
