"""The conformance suite against every backend: NetworkX (the reference), NetworkX reopened and Neo4j.

The suite includes the engine-level tests of :class:`zettelmem.testing.TruthConformance`
(truth maintenance and forgetting through ``Memory``) on each backend.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from zettelmem import Memory, Settings
from zettelmem.models import Scope
from zettelmem.stores.base import GraphStore
from zettelmem.stores.networkx_store import NetworkXGraphStore
from zettelmem.testing import GraphStoreConformance, purge_neo4j


class TestNetworkX(GraphStoreConformance):
    exclusive = True

    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[GraphStore]:
        with NetworkXGraphStore(tmp_path / "graph.sqlite") as s:
            yield s


class TestNetworkXReopened(GraphStoreConformance):
    """Same suite, each read served by a store reopened from disk (what SQLite kept)."""

    exclusive = True

    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[GraphStore]:
        with _Reopening(tmp_path / "graph.sqlite") as s:
            yield s

    def open_memory(self, home: Path, request: pytest.FixtureRequest, **fields: Any) -> Memory:
        home.mkdir(parents=True, exist_ok=True)
        return Memory(Settings(home=home, use_llm=False, **fields), graph=_Reopening(home / "graph.sqlite"))


@pytest.mark.neo4j
class TestNeo4j(GraphStoreConformance):
    @pytest.fixture
    def store(self, neo4j_store: Any) -> Any:
        return neo4j_store

    def purge(self, store: Any, scopes: list[Scope], tag: str) -> None:
        purge_neo4j(store, scopes, tag)

    def open_memory(self, home: Path, request: pytest.FixtureRequest, **fields: Any) -> Memory:
        return Memory(Settings(home=home, use_llm=False, graph=request.getfixturevalue("neo4j_config"), **fields))

    def traces(self, mem: Any, text: str) -> int:
        """Every property of every node and relationship on the server, lists included."""
        value = ("CASE WHEN x[k] IS :: LIST<ANY> THEN reduce(s = '', e IN x[k] | s + ' ' + toString(e)) "
                 "ELSE toString(x[k]) END")
        n = 0
        for pattern in ("(x)", "()-[x]->()"):
            rows = mem.aio.graph.run_cypher(
                f"MATCH {pattern} WHERE any(k IN keys(x) WHERE toLower({value}) CONTAINS toLower($m)) "
                "RETURN count(x) AS n", {"m": text})
            n += int(rows[0]["n"])
        return n


def test_scope_parts_cannot_forge_another_scopes_key() -> None:
    """Backends isolate by ``Scope.key``; a part holding its separator could forge another scope's key."""
    with pytest.raises(ValueError):
        Scope(user_id="a\x1fb")
    assert Scope(user_id="a/b", agent_id="c").key != Scope(user_id="a", agent_id="b/c").key


class _Reopening(NetworkXGraphStore):
    def batch(self, ops: Any) -> list[Any]:
        out = super().batch(ops)
        self.close()
        self.__init__(self.path)  # type: ignore[misc]
        return out
