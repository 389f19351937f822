"""LangGraph integration: a durable ``BaseStore``, ready nodes and agent tools.

* :class:`ZettelStore` — a LangGraph store in a zettelmem home folder; with
  ``notes=True`` its indexed items also become linked, evolving notes.
* :func:`remember` / :func:`recall` — graph nodes over a :class:`~zettelmem.Memory` or
  :class:`~zettelmem.AsyncMemory` (user from ``config["configurable"]["user_id"]`` or the
  run context; no user is an error, never a shared scope).
* :func:`make_memory_tools` — ``remember_memory`` / ``search_memory`` / ``update_memory`` /
  ``forget_memory`` tools for agents (sync and async; memory errors become tool messages).

Needs the ``langgraph`` extra (``pip install zettelmem[langgraph]``).
"""

from zettelmem.langgraph._codec import namespace_scope, scope_namespace
from zettelmem.langgraph._notes import ZettelEmbeddings
from zettelmem.langgraph.nodes import MemoryState, make_recall, make_remember, recall, remember
from zettelmem.langgraph.store import ZettelStore
from zettelmem.langgraph.tools import make_memory_tools

__all__ = [
    "MemoryState",
    "ZettelEmbeddings",
    "ZettelStore",
    "make_memory_tools",
    "make_recall",
    "make_remember",
    "namespace_scope",
    "recall",
    "remember",
    "scope_namespace",
]
