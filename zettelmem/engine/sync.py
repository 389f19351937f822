"""Memory: the synchronous facade over AsyncMemory.

Coroutines run on one private event loop in a daemon thread, so ``Memory`` works
the same in scripts, in threads and inside Jupyter (whose loop is already
running). Every public method of AsyncMemory is mirrored once, here, by name.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from zettelmem.engine.core import AsyncMemory

__all__ = ["Memory"]

T = TypeVar("T")


class _LoopThread:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="zettelmem-loop", daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result()
        except KeyboardInterrupt:
            # Ctrl-C: cancel the operation and let its tasks finish unwinding, so nothing is
            # left pending on the loop ("Task was destroyed but it is pending!" at exit).
            future.cancel()
            with contextlib.suppress(BaseException):
                asyncio.run_coroutine_threadsafe(_settle(), self.loop).result(timeout=10)
            raise

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)
        self.loop.close()


async def _settle() -> None:
    """Wait until every other task on this loop has finished (after a cancellation)."""
    for _ in range(3):
        others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        if not others:
            return
        for t in others:
            t.cancel()
        await asyncio.wait(others, timeout=3)


def _mirror(name: str) -> Any:
    """A sync method with the async one's name, signature and docstring."""
    amethod = getattr(AsyncMemory, name)

    @functools.wraps(amethod)
    def method(self: Memory, *args: Any, **kwargs: Any) -> Any:
        return self._runner.run(getattr(self._async, name)(*args, **kwargs))

    return method


class Memory:
    """A durable, evolving memory graph (sync API). See :class:`AsyncMemory`.

    Example:
        >>> mem = Memory(Settings(home="./mem"))          # doctest: +SKIP
        >>> mem.add("Alice moved to Lisbon in May 2023.")  # doctest: +SKIP
        >>> mem.search("where does Alice live?")           # doctest: +SKIP
    """

    add = _mirror("add")
    add_many = _mirror("add_many")
    get = _mirror("get")
    list = _mirror("list")
    links = _mirror("links")
    search = _mirror("search")
    history = _mirror("history")
    update = _mirror("update")
    revert = _mirror("revert")
    delete = _mirror("delete")
    link = _mirror("link")
    unlink = _mirror("unlink")
    unpin = _mirror("unpin")
    evolve = _mirror("evolve")
    stats = _mirror("stats")
    check = _mirror("check")

    def __init__(self, settings: Any = None, **kwargs: Any) -> None:
        from zettelmem.config import Settings

        if settings is None:
            settings = Settings(**{k: kwargs.pop(k) for k in list(kwargs) if k in Settings.model_fields})
        self._runner = _LoopThread()
        try:
            self._async = self._runner.run(self._open(settings, kwargs))
        except BaseException:
            self._runner.stop()
            raise

    @staticmethod
    async def _open(settings: Any, kwargs: dict[str, Any]) -> AsyncMemory:
        return AsyncMemory(settings, **kwargs)

    @property
    def aio(self) -> AsyncMemory:
        """The async core this facade drives."""
        return self._async

    @property
    def settings(self) -> Any:
        return self._async.settings

    def close(self) -> None:
        if self._runner.thread.is_alive():
            self._runner.run(self._async.aclose())
            self._runner.stop()

    def __enter__(self) -> Memory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
