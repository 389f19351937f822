"""Test-only factory for LangGraph's upstream store tests (``../shared/conformance``).

    python ../shared/conformance/run_upstream_store_tests.py --store zettelmem.lg_testing:make_store

``make_store()`` / ``make_store(index={...})`` yields a fresh, empty
:class:`~zettelmem.langgraph.ZettelStore` in its own temporary folder and removes
the folder after the test.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from typing import Any

from zettelmem.langgraph.store import ZettelStore

__all__ = ["make_store"]


@contextlib.contextmanager
def make_store(index: Any = None) -> Iterator[ZettelStore]:
    """A fresh store in a temporary folder (the factory contract of the conformance harness)."""
    with tempfile.TemporaryDirectory(prefix="zm-lgstore-") as home:
        store = ZettelStore(home, index=index)
        try:
            yield store
        finally:
            store.close()
