"""Neo4j failing under zettelmem: down at start, restarted mid-ingest, down for good.

The restart tests run a Neo4j of their own (``neo4j_servers``), stop it while an
``add_many`` runs in a thread and start it again. Either the driver's retries
carry the ingest through, or it fails with a typed error; in both cases no batch
is half-written and ``check`` (after ``repair``) proves graph and vectors agree.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import free_port
from pydantic import SecretStr

from zettelmem import Memory, Scope, Settings
from zettelmem.config import AgentsConfig, HashingEmbeddingConfig, Neo4jConfig
from zettelmem.errors import BackendUnavailable, ConfigurationError, ZettelmemError
from zettelmem.stores.neo4j import Neo4jGraphStore

pytestmark = pytest.mark.neo4j

BATCH = 5
N = 200
WORDS = ["beagle", "puppy", "river", "walk", "vet", "clinic", "Porto", "shelter", "shoes", "bridge", "morning",
         "coffee", "rain", "garden", "train", "ticket", "Lisbon", "market", "bread", "cheese", "guitar", "lesson",
         "piano", "concert"]


def _items(n: int) -> list[str]:
    return [f"Memory {i}: {WORDS[i % len(WORDS)]} and {WORDS[(i * 7) % len(WORDS)]} "
            f"with {WORDS[(i * 3) % len(WORDS)]} on day {i % 31}." for i in range(n)]


def test_server_down_at_start_names_the_uri() -> None:
    uri = f"bolt://127.0.0.1:{free_port()}"  # nothing listens there
    t0 = time.monotonic()
    with pytest.raises(BackendUnavailable, match=uri.replace(".", r"\.")) as err:
        Neo4jGraphStore(Neo4jConfig(uri=uri, password=SecretStr("x"), connection_timeout=3))
    assert isinstance(err.value, ConnectionError) and time.monotonic() - t0 < 30


def test_bad_uri_and_bad_password_are_configuration_errors(neo4j_config: Any) -> None:
    with pytest.raises(ConfigurationError, match="URI"):
        Neo4jGraphStore(Neo4jConfig(uri="http://127.0.0.1:1", password=SecretStr("x")))
    wrong = neo4j_config.model_copy(update={"password": neo4j_config.password.__class__("not-the-password")})
    with pytest.raises(ConfigurationError, match="credentials"):
        Neo4jGraphStore(wrong)


@pytest.fixture(scope="module")
def server(neo4j_servers: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A private server, and one home (Chroma folder) for every Memory on it: ``check`` spans all scopes."""
    info = neo4j_servers.start("failures")
    cfg = Neo4jConfig(uri=info["uri"], user=info["user"], password=info["password"])
    with Neo4jGraphStore(cfg) as store:
        store.setup()
    yield dict(info, config=cfg, home=tmp_path_factory.mktemp("failures-home"))
    neo4j_servers.stop(info)


def _ingest_in_thread(mem: Memory, scope: Scope, n: int) -> tuple[threading.Thread, dict[str, Any]]:
    state: dict[str, Any] = {"acked": 0, "error": None, "results": None}

    def progress(done: int, total: int) -> None:
        state["acked"] = done
        time.sleep(0.05)  # spread the ingest out so the server goes down in the middle

    def run() -> None:
        try:
            state["results"] = mem.add_many(_items(n), scope=scope, batch_size=BATCH, progress=progress)
        except BaseException as exc:
            state["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, state


def _wait_for(cond: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _assert_whole_batches_and_agreement(mem: Memory, scope: Scope, acked: int) -> None:
    notes = mem.list(scope)
    assert len(notes) % BATCH == 0, f"{len(notes)} notes: a batch was half-written"
    assert acked <= len(notes) <= acked + BATCH
    ids = {n.id for n in notes}
    for note in notes:  # every link of every stored note ends at a stored note
        assert all(lk.source in ids and lk.target in ids for lk in mem.links(note.id, scope))
    report = mem.check()
    if not report.ok:  # at most vectors of the batch whose graph commit failed
        assert not report.missing_vectors and not report.stale_vectors
        assert mem.check(repair=True).repaired == len(report.orphan_vectors)
    assert mem.check().ok


def _settings(home: Path, cfg: Neo4jConfig) -> Settings:
    return Settings(home=home, graph=cfg, embedding=HashingEmbeddingConfig(), use_llm=False,
                    agents=AgentsConfig(truth=False))  # every templated memory is its own note: batches count


def test_restart_mid_ingest_retries_or_fails_typed(server: dict[str, Any], neo4j_servers: Any) -> None:
    scope = Scope(user_id=f"restart-{uuid.uuid4().hex[:8]}")
    with Memory(_settings(server["home"], server["config"])) as mem:
        thread, state = _ingest_in_thread(mem, scope, N)
        _wait_for(lambda: state["acked"] >= 4 * BATCH, 60)
        neo4j_servers.stop(server)
        down_at = state["acked"]
        time.sleep(1.0)
        neo4j_servers.restart(server)
        thread.join(timeout=180)
        assert not thread.is_alive()
        assert down_at < N, "the ingest finished before the server went down"
        if state["error"] is not None:
            assert isinstance(state["error"], ZettelmemError), repr(state["error"])
        else:
            assert len(state["results"]) == N
        print(f"server stopped after {down_at} acked; outcome: {state['error'] or 'retried through'}")
        _assert_whole_batches_and_agreement(mem, scope, state["acked"])


def test_server_gone_longer_than_retries_fails_typed(server: dict[str, Any], neo4j_servers: Any) -> None:
    scope = Scope(user_id=f"gone-{uuid.uuid4().hex[:8]}")
    graph = Neo4jGraphStore(server["config"], retry_time=2.0)
    with Memory(_settings(server["home"], server["config"]), graph=graph) as mem:
        thread, state = _ingest_in_thread(mem, scope, N)
        _wait_for(lambda: state["acked"] >= 4 * BATCH, 60)
        neo4j_servers.stop(server)
        thread.join(timeout=120)
        assert not thread.is_alive()
        err = state["error"]
        assert isinstance(err, BackendUnavailable), repr(err)
        assert server["uri"] in str(err)
        neo4j_servers.restart(server)
        _assert_whole_batches_and_agreement(mem, scope, state["acked"])
