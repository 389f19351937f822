"""The ``scope`` argument is the only scope a call writes to (on NetworkX and on Neo4j).

An item that names another scope of its own (a dict key, a ``MemoryInput`` field) is
refused with ``ScopeMismatch`` before anything is written; nothing lands in either scope.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from zettelmem import Memory, MemoryInput, Scope, ScopeMismatch, Settings
from zettelmem.config import HashingEmbeddingConfig
from zettelmem.testing import purge_neo4j


@pytest.fixture(params=["networkx", pytest.param("neo4j", marks=pytest.mark.neo4j)])
def mem_and_scopes(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Memory, Scope, Scope]]:
    tag = uuid.uuid4().hex[:10]
    alice, bob = Scope(user_id=f"zmt-{tag}-alice"), Scope(user_id=f"zmt-{tag}-bob")
    extra: dict[str, Any] = {}
    if request.param == "neo4j":
        extra["graph"] = request.getfixturevalue("neo4j_config")
        store = request.getfixturevalue("neo4j_store")
    with Memory(Settings(home=tmp_path, embedding=HashingEmbeddingConfig(), use_llm=False, **extra)) as mem:
        yield mem, alice, bob
    if request.param == "neo4j":
        purge_neo4j(store, [alice, bob], tag)


def test_item_scope_cannot_override_the_scope_argument(mem_and_scopes: tuple[Memory, Scope, Scope]) -> None:
    mem, alice, bob = mem_and_scopes
    mem.add("Alice keeps her passport in the blue drawer.", scope=alice)
    before = {s.key: [n.content for n in mem.list(s)] for s in (alice, bob)}
    attempts = [
        lambda: mem.add({"content": "Injected into alice", "scope": {"user_id": alice.user_id}}, scope=bob),
        lambda: mem.add({"content": "Injected into alice", "scope": alice}, scope=bob),
        lambda: mem.add(MemoryInput(content="Injected into alice", scope=alice), scope=bob),
        lambda: mem.add_many(["fine", {"content": "Injected into alice", "scope": alice}], scope=bob),
    ]
    for attempt in attempts:
        with pytest.raises(ScopeMismatch):
            attempt()
    after = {s.key: [n.content for n in mem.list(s)] for s in (alice, bob)}
    assert after == before  # a refused call writes nothing, in either scope
    assert not any("Injected" in h.note.content for h in mem.search("Injected into alice", scope=alice))


def test_scope_argument_wins_over_a_defaulted_item_scope(mem_and_scopes: tuple[Memory, Scope, Scope]) -> None:
    mem, alice, bob = mem_and_scopes
    r = mem.add(MemoryInput(content="Bob likes green tea."), scope=bob)  # MemoryInput's default scope is unset
    assert r.note.scope == bob
    same = mem.add({"content": "Bob owns a red bike.", "scope": bob}, scope=bob)  # agreeing scopes are fine
    assert same.note.scope == bob
    assert [n.content for n in mem.list(alice)] == []
    assert sorted(n.content for n in mem.list(bob)) == ["Bob likes green tea.", "Bob owns a red bike."]
    # without a scope argument the item's own scope is used
    own = mem.add({"content": "Alice plays chess.", "scope": alice})
    assert own.note.scope == alice
    links = [lk for lk in mem.links(own.note.id, alice)]
    bob_ids = {n.id for n in mem.list(bob)}
    assert not any(lk.source in bob_ids or lk.target in bob_ids for lk in links)
