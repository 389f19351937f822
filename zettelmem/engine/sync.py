"""Memory: the synchronous facade over AsyncMemory.

Coroutines run on one private event loop in a daemon thread, so ``Memory`` works
the same in scripts, in threads and inside Jupyter (whose loop is already
running). Every public method of AsyncMemory is mirrored once, here, by name.
"""

from __future__ import annotations

import asyncio
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
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)
        self.loop.close()


class Memory:
    """A durable, evolving memory graph (sync API). See :class:`AsyncMemory`.

    Example:
        >>> mem = Memory(Settings(home="./mem"))          # doctest: +SKIP
        >>> mem.add("Alice moved to Lisbon in May 2023.")  # doctest: +SKIP
        >>> mem.search("where does Alice live?")           # doctest: +SKIP
    """

    _ASYNC = ("add", "add_many", "get", "list", "links", "search", "history", "update", "revert",
              "delete", "link", "unlink", "evolve", "stats", "check")

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

    def __getattr__(self, name: str) -> Any:
        if name in Memory._ASYNC:
            method = getattr(self._async, name)
            return lambda *a, **kw: self._runner.run(method(*a, **kw))
        return getattr(self._async, name)

    def close(self) -> None:
        if self._runner.thread.is_alive():
            self._runner.run(self._async.aclose())
            self._runner.stop()

    def __enter__(self) -> Memory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
