"""Memory: the synchronous facade over AsyncMemory.

Coroutines run on one private event loop in a daemon thread, so ``Memory`` works
the same in scripts, in threads and inside Jupyter (whose loop is already
running). Every public method of AsyncMemory is mirrored once, here, by
:func:`_mirror`, which keeps its parameters for type checkers (``ParamSpec``) and
turns its ``Coroutine[..., R]`` into ``R``.

A sync call made on that loop's own thread (a progress callback of ``add_many``
calling ``mem.stats()``, say) would wait for a loop that is busy running its
caller: it raises :class:`~zettelmem.errors.ReentrantCall` instead of hanging.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import threading
from collections.abc import Callable, Coroutine
from typing import Any, Concatenate, ParamSpec, TypeVar

from zettelmem.config import Settings
from zettelmem.engine.core import AsyncMemory
from zettelmem.errors import ConfigurationError, ReentrantCall

__all__ = ["Memory"]

#: keywords of ``Memory(...)`` that are ready-made engine parts, not Settings fields
_PARTS = ("agents", "graph", "vectors", "embedder", "read_only")
P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")


class _LoopThread:
    """An event loop running forever in a daemon thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="zettelmem-loop", daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the loop and wait for its result (never from the loop's own thread)."""
        if threading.current_thread() is self.thread:
            coro.close()  # never awaited: close it so no "never awaited" warning fires
            raise ReentrantCall(
                "a sync Memory method was called from zettelmem's own event-loop thread (for example "
                "inside an add_many progress callback); it would wait forever for the call it is part "
                "of. Make the call after the outer one returns, or from another thread."
            )
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


def _mirror(
    amethod: Callable[Concatenate[AsyncMemory, P], Coroutine[Any, Any, R]],
) -> Callable[Concatenate[Memory, P], R]:
    """A sync method with the async one's name, parameters, docstring and (awaited) return type."""

    @functools.wraps(amethod)
    def method(self: Memory, /, *args: P.args, **kwargs: P.kwargs) -> R:
        return self._runner.run(amethod(self._async, *args, **kwargs))

    return method


class Memory:
    """A durable, evolving memory graph (sync API). See :class:`AsyncMemory`.

    ``Memory(home="./mem", ...)`` takes :class:`~zettelmem.config.Settings` fields;
    ``Memory(settings, agents=..., graph=..., vectors=..., embedder=...)`` takes
    ready-made engine parts beside the settings (see :class:`AsyncMemory`).

    Example:
        >>> mem = Memory(Settings(home="./mem"))          # doctest: +SKIP
        >>> mem.add("Alice moved to Lisbon in May 2023.")  # doctest: +SKIP
        >>> mem.search("where does Alice live?")           # doctest: +SKIP
    """

    add = _mirror(AsyncMemory.add)
    add_many = _mirror(AsyncMemory.add_many)
    get = _mirror(AsyncMemory.get)
    list = _mirror(AsyncMemory.list)
    links = _mirror(AsyncMemory.links)
    search = _mirror(AsyncMemory.search)
    history = _mirror(AsyncMemory.history)
    update = _mirror(AsyncMemory.update)
    revert = _mirror(AsyncMemory.revert)
    delete = _mirror(AsyncMemory.delete)
    link = _mirror(AsyncMemory.link)
    unlink = _mirror(AsyncMemory.unlink)
    unpin = _mirror(AsyncMemory.unpin)
    evolve = _mirror(AsyncMemory.evolve)
    consolidate = _mirror(AsyncMemory.consolidate)
    stats = _mirror(AsyncMemory.stats)
    check = _mirror(AsyncMemory.check)

    def __init__(self, settings: Settings | None = None, **kwargs: Any) -> None:
        if settings is None:  # keywords are Settings fields (and perhaps a ready-made embedder)
            parts: dict[str, Any] = {k: kwargs.pop(k) for k in ("embedder", "read_only") if k in kwargs}
            settings = Settings(**kwargs)  # an unknown keyword is a ConfigurationError there
        else:  # keywords are ready-made engine parts
            parts = kwargs
            if set(kwargs) - set(_PARTS):
                raise ConfigurationError(f"pass settings or its fields, not both (got settings and "
                                         f"{sorted(set(kwargs) - set(_PARTS))})")
        self._runner = _LoopThread()
        try:
            self._async = self._runner.run(self._open(settings, parts))
        except BaseException:
            self._runner.stop()
            raise

    @staticmethod
    async def _open(settings: Settings, kwargs: dict[str, Any]) -> AsyncMemory:
        return AsyncMemory(settings, **kwargs)

    @property
    def aio(self) -> AsyncMemory:
        """The async core this facade drives."""
        return self._async

    @property
    def settings(self) -> Settings:
        return self._async.settings

    def close(self) -> None:
        if self._runner.thread.is_alive():
            self._runner.run(self._async.aclose())
            self._runner.stop()

    def __enter__(self) -> Memory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
