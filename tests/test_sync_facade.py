"""The sync facade: real signatures, and no deadlock when called from its own loop thread."""

from __future__ import annotations

import inspect
import threading
from typing import Any

import pytest

from zettelmem import AsyncMemory, Memory, Settings
from zettelmem.config import HashingEmbeddingConfig
from zettelmem.errors import ReentrantCall, ZettelmemError

MIRRORED = ["add", "add_many", "get", "list", "links", "search", "history", "update", "revert", "delete",
            "link", "unlink", "unpin", "evolve", "consolidate", "stats", "check"]


@pytest.fixture
def mem(tmp_path):
    m = Memory(Settings(home=tmp_path / "home", embedding=HashingEmbeddingConfig()))
    yield m
    m.close()


def in_thread(fn: Any, timeout: float = 30) -> Any:
    """Run ``fn`` in a thread; fail (instead of hanging the suite) if it does not return."""
    box: dict[str, Any] = {}

    def go() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # handed back to the test
            box["error"] = exc

    t = threading.Thread(target=go, daemon=True)
    t.start()
    t.join(timeout)
    assert not t.is_alive(), "the call deadlocked"
    if "error" in box:
        raise box["error"]
    return box["value"]


def test_sync_call_from_progress_callback_raises_instead_of_deadlocking(mem):
    seen: list[Any] = []

    def progress(done: int, total: int) -> None:
        seen.append(mem.stats())  # runs on zettelmem's loop thread

    with pytest.raises(ReentrantCall, match="own event-loop thread") as info:
        in_thread(lambda: mem.add_many(["one memory", "another memory"], progress=progress))
    assert isinstance(info.value, ZettelmemError) and isinstance(info.value, RuntimeError)
    assert seen == []
    # the facade still works afterwards, from any thread
    assert in_thread(mem.stats)["notes"] == 2  # the batch before the callback is durably stored
    assert in_thread(lambda: mem.add("a third memory")).note.content == "a third memory"


def test_progress_callback_may_use_plain_values(mem):
    calls: list[tuple[int, int]] = []
    mem.add_many([f"memory number {i}" for i in range(5)], batch_size=2, progress=lambda d, t: calls.append((d, t)))
    assert calls == [(2, 5), (4, 5), (5, 5)]


def test_mirrored_methods_keep_signature_and_docs():
    for name in MIRRORED:
        sync, coro = getattr(Memory, name), getattr(AsyncMemory, name)
        assert sync.__doc__ == coro.__doc__ and sync.__name__ == name
        assert inspect.signature(sync) == inspect.signature(coro), name
    assert not inspect.iscoroutinefunction(Memory.search)

