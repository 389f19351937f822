"""Checked by mypy (tests/test_typing.py), never run: the sync facade keeps the async signatures.

``assert_type`` fails if a mirrored method loses its types (``Any`` is not ``list[SearchHit]``);
each ``type: ignore[code]`` fails as an unused ignore (mypy --strict) if the bad call type-checks.
"""

from __future__ import annotations

from typing import Any, assert_type

from zettelmem import AddResult, AsyncMemory, Change, CheckReport, Link, Memory, Note, Scope, SearchHit, Settings
from zettelmem.engine.consolidate import ConsolidationReport


def sync_api(mem: Memory, scope: Scope) -> None:
    assert_type(mem.add("Alice moved to Lisbon.", scope, evolve=False), AddResult)
    assert_type(mem.add_many(["a", {"content": "b"}], scope, batch_size=8), list[AddResult])
    assert_type(mem.get("id", scope), Note)
    assert_type(mem.list(scope, limit=5), list[Note])
    assert_type(mem.links("id", scope), list[Link])
    assert_type(mem.search("where?", scope, k=3), list[SearchHit])
    assert_type(mem.history("id"), list[Change])
    assert_type(mem.update("id", scope, tags=["x"]), Change)
    assert_type(mem.revert("change"), Change)
    assert_type(mem.delete(["a", "b"], scope), int)
    assert_type(mem.link("a", "b", scope, weight=0.9), Link)
    assert_type(mem.unlink("a", "b"), int)
    assert_type(mem.unpin("id", scope), Note)
    assert_type(mem.evolve(None, scope), list[AddResult])
    assert_type(mem.consolidate(None, scope), ConsolidationReport)
    assert_type(mem.stats(), dict[str, Any])
    assert_type(mem.check(repair=True), CheckReport)
    assert_type(mem.aio, AsyncMemory)
    assert_type(mem.settings, Settings)


def wrong_calls(mem: Memory) -> None:
    mem.search(42)  # type: ignore[arg-type]
    mem.search("q", kk=3)  # type: ignore[call-arg]
    mem.get()  # type: ignore[call-arg]
    mem.add_many(["a"], progress="no")  # type: ignore[arg-type]
    mem.search("q").upper()  # type: ignore[attr-defined]


async def async_api(mem: AsyncMemory) -> None:
    assert_type(await mem.search("where?"), list[SearchHit])
    assert_type(await mem.add("x"), AddResult)
