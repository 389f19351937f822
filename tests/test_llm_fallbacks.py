"""Loud fallbacks: a dead or broken endpoint is visible on the normal CLI output, counted in
the store across processes, and ``ZETTELMEM_LLM_REQUIRED=1`` turns it into an error that
writes nothing. Real processes (``python -m zettelmem``) against a closed loopback port."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import langchain_openai  # noqa: F401  (a test dependency: the real client path)
import pytest

from zettelmem import Memory
from zettelmem.agents.llm import llm_suite
from zettelmem.agents.offline import offline_suite
from zettelmem.config import HashingEmbeddingConfig, Settings
from zettelmem.errors import LLMRequired
from zettelmem.llm import LLMSettings, ScriptedLLM
from zettelmem.llm.accounting import merge_stored, read_stored
from zettelmem.models import Scope

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cli(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    dead = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    full = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200", "ZETTELMEM_EMBEDDING__PROVIDER": "hashing",
            "ZETTELMEM_LLM_BASE_URL": dead, "ZETTELMEM_LLM_MODEL": "dead", "ZETTELMEM_LLM_MAX_RETRIES": "0",
            "ZETTELMEM_LLM_TIMEOUT": "5", **env}
    return subprocess.run([sys.executable, "-m", "zettelmem", "--home", str(home), *args],
                          env=full, capture_output=True, text=True, timeout=300)


def stats(home: Path) -> dict[str, Any]:
    proc = cli(home, "--offline", "stats", "--json")
    assert proc.returncode == 0, proc.stderr
    return dict(json.loads(proc.stdout))


def test_dead_endpoint_warns_once_and_counts_persist(tmp_path: Path) -> None:
    home = tmp_path / "h"
    added = cli(home, "add", "Maya signed up for a pottery class on Alberta Street.")
    assert added.returncode == 0, added.stderr
    [warning] = [line for line in added.stderr.splitlines() if "built offline" in line]
    assert "warning: 1 memory was built offline because the LLM failed" in warning
    assert "first reason: LLMError" in warning and "ZETTELMEM_LLM_REQUIRED=1" in warning

    src = tmp_path / "two.jsonl"
    src.write_text('{"content": "Jonas bakes sourdough."}\n{"content": "Lena made a blue mug."}\n')
    ingested = cli(home, "ingest", str(src), "--json")  # stdout stays JSON; the warning goes to stderr
    assert ingested.returncode == 0, ingested.stderr
    assert json.loads(ingested.stdout)["llm_fallbacks"] == 2
    assert sum("built offline" in line for line in ingested.stderr.splitlines()) == 1
    assert "2 memories were built offline" in ingested.stderr

    # a new process, no LLM configured: the store remembers
    stored = stats(home)["llm_stored"]
    assert stored["fallbacks"] == 3 and stored["failures"] == 2  # one failed call per add / ingest chunk
    assert stored["last_failure"].startswith("LLMError") and stored["last_failure_at"]
    table = cli(home, "--offline", "stats")
    assert "llm fallbacks (stored, all runs)" in table.stdout and "llm last failure" in table.stdout


def test_required_turns_a_fallback_into_an_error_that_writes_nothing(tmp_path: Path) -> None:
    home = tmp_path / "h"
    proc = cli(home, "add", "Maya signed up for a pottery class.", ZETTELMEM_LLM_REQUIRED="1")
    assert proc.returncode == 1
    assert "[LLMRequired]" in proc.stderr and "nothing was written" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert stats(home)["notes"] == 0


def test_required_in_the_api_refuses_the_chunk(tmp_path: Path) -> None:
    from zettelmem.errors import LLMError

    llm = ScriptedLLM([LLMError("connection refused")])
    settings = Settings(home=tmp_path / "h", embedding=HashingEmbeddingConfig())
    suite: Any = llm_suite(LLMSettings(required=True), settings.agents, offline_suite(settings.agents), llm)
    with Memory(settings, agents=suite) as mem:
        with pytest.raises(LLMRequired, match="connection refused"):
            mem.add_many(["one memory", "another"], scope=Scope(user_id="u"))
        assert mem.list(Scope(user_id="u")) == []
        assert mem.stats()["llm_stored"]["calls"] == 0  # nothing written, the counts included


def test_counts_are_committed_with_the_notes(tmp_path: Path) -> None:
    from zettelmem.errors import LLMError

    llm = ScriptedLLM([LLMError("boom")], default=lambda m, s, t: {"m1": {
        "keywords": ["pottery"], "tags": ["hobby"], "context": "Maya took up pottery.", "memory_type": "episodic"}})
    settings = Settings(home=tmp_path / "h", embedding=HashingEmbeddingConfig())
    suite: Any = llm_suite(LLMSettings(batch_size=1), settings.agents, offline_suite(settings.agents), llm)
    with Memory(settings, agents=suite) as mem:
        mem.add("Maya bought clay.", scope=Scope(user_id="u"))
        mem.add("Maya took up pottery.", scope=Scope(user_id="u"))
    with Memory(Settings(home=tmp_path / "h", embedding=HashingEmbeddingConfig(), use_llm=False)) as mem:
        stored = mem.stats()["llm_stored"]
    assert (stored["calls"], stored["failures"], stored["fallbacks"]) == (2, 1, 1)
    assert stored["last_failure"] == "LLMError: boom" and stored["prompt_tokens"] > 0


def test_stored_counts_merge() -> None:
    assert merge_stored(None, {"calls": 0}) is None  # offline chunk: nothing stored
    first = merge_stored(None, {"calls": 2, "failures": 1, "fallbacks": 3}, "LLMError: x")
    again = merge_stored(first, {"calls": 1, "prompt_tokens": 10})
    out = read_stored(again)
    assert (out["calls"], out["failures"], out["fallbacks"], out["prompt_tokens"]) == (3, 1, 3, 10)
    assert out["last_failure"] == "LLMError: x"
    assert read_stored("not json")["calls"] == 0
