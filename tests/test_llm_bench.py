"""bench/llm_cost.py on a few turns: the counting run works and its call counts are exact."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

def test_llm_cost_quick(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from bench import llm_cost
    from bench.locomo_data import default_data_path

    default_data_path()  # ../shared/data/locomo is always beside the project (CI copies it too)
    out = tmp_path / "cost.json"
    code = llm_cost.main(["--turns", "12", "--embedding", "hashing", "--json", str(out)])
    printed = capsys.readouterr().out
    assert "counted with tiktoken" in printed and "| zettelmem joint " in printed
    data = json.loads(out.read_text())
    calls = {row["mode"]: row["totals"]["calls"] for row in data["rows"]}
    assert calls["zettelmem joint"] == 12
    assert calls["zettelmem joint + batch 4"] == 3
    assert calls["A-MEM-style (build + evolve over 5)"] == 12 + 11  # no evolve call for the first
    assert 12 * 2 <= calls["zettelmem staged"] <= 12 * 3
    assert all(row["totals"]["fallbacks"] == 0 for row in data["rows"])
    assert code == 0
