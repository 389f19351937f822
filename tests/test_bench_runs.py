"""Each benchmark runs on a tiny slice so it cannot rot (no timing is asserted)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def test_scale_smoke():
    out = run("-m", "bench.scale", "--sizes", "150", "--queries", "5")
    assert "| raw embedding (floor) | 150 |" in out
    assert "| bare Chroma query (floor) | 150 |" in out
    assert "| zettelmem embedded | 150 |" in out and "of raw embedding" in out


def test_ingest_smoke():
    out = run("-m", "bench.ingest", "--fill", "0,100", "--repeat", "3")
    assert "turns ingested (add_many)" in out and "bare Chroma query" in out
    assert "| 100 |" in out


def test_backends_smoke(neo4j_config):
    out = run("-m", "bench.backends", "--notes", "120", "--queries", "5", "--embedding", "hashing",
              "--neo4j-uri", neo4j_config.uri)
    assert "NetworkX" in out or "networkx" in out
    assert "neo4j" in out.lower() and "chroma" in out.lower()


def test_agent_loop_smoke():
    out = run("-m", "bench.agent_loop", "--sizes", "40", "--steps", "3", "--embedding", "hashing")
    assert "| embedded | 40 |" in out and "search after write" in out and "bare HNSW" in out
    assert "ingest ÷ embedding floor" in out


def test_agent_loop_smoke_on_servers(neo4j_config, chroma_server):
    """Neo4j (NEO4J_URI, which neo4j_config requires) + the Chroma test server."""
    host, port = chroma_server
    out = run("-m", "bench.agent_loop", "--sizes", "40", "--steps", "3", "--embedding", "hashing",
              "--backends", "server", "--chroma-url", f"{host}:{port}")
    assert "| server | 40 |" in out


def test_vector_layout_smoke():
    out = run("-m", "bench.vector_layout", "--vectors", "2000", "--queries", "5", "--dims", "16")
    assert "collection per scope" in out and "one collection + where" in out
