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


def test_llm_cost_live_endpoint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--base-url measures a live endpoint with its own token counts (here: the replay server)."""
    from openai_replay_server import ReplayServer

    from bench import llm_cost

    out = tmp_path / "live.json"
    with ReplayServer(repeat="joint_good") as srv:
        code = llm_cost.main(["--turns", "4", "--batch", "4", "--embedding", "hashing", "--base-url", srv.base_url,
                              "--model", "replay-model", "--json", str(out)])
        requests = len(srv.requests)
    printed = capsys.readouterr().out
    assert "| live replay-model (function_calling), joint + batch 4 " in printed
    assert "| counting model, joint + batch 4 " in printed
    data = json.loads(out.read_text())
    counting, live = data["rows"]
    assert counting["totals"]["calls"] == 1
    # the reply names m1 only: one packed call, then one targeted call for each of m2..m4
    assert requests == 4 and live["totals"]["calls"] == 4 + 1  # + the structured-output probe
    assert live["totals"]["prompt_tokens"] == 4 * 812 + 20 and live["totals"]["fallbacks"] == 0
    assert live["s_per_call"] > 0 and code == 0
