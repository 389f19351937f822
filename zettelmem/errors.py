"""One error tree for zettelmem.

Every error zettelmem raises on purpose derives from :class:`ZettelmemError`;
driver exceptions are wrapped with ``raise ... from exc``. Builtins are mixed in
where callers expect them (``except KeyError`` still catches an unknown id)::

    ZettelmemError
    ├── ConfigurationError (ValueError)
    │   └── EmbeddingModelMismatch       store was built with another model
    ├── InvalidInput (ValueError)
    │   ├── EmptyContent
    │   ├── ContentTooLarge
    │   ├── InvalidContent               NUL bytes, invalid UTF-8, bad tags
    │   └── ScopeMismatch                an item's own scope differs from the scope argument
    ├── NotFound (KeyError)
    │   ├── NoteNotFound
    │   ├── LinkNotFound
    │   ├── ChangeNotFound
    │   └── StoreNotFound                no store in the folder a read-only open named
    ├── StoreError
    │   ├── StoreLocked                  another process holds the folder for writing
    │   ├── StoreReadOnly                a write on a store opened read-only
    │   ├── StoreCorrupt                 a store file cannot be read
    │   ├── BackendUnavailable (ConnectionError)   server down / unreachable
    │   ├── SchemaVersionError           migrations missing, edited or unknown
    │   └── ConflictError                optimistic version check failed
    ├── LLMError
    │   ├── StructuredOutputError        reply did not match the schema
    │   ├── BudgetExceeded               call/token budget of an operation spent
    │   └── LLMRequired                  the LLM failed and ZETTELMEM_LLM_REQUIRED forbids offline notes
    ├── ExportError
    └── ReentrantCall (RuntimeError)     a sync Memory call from zettelmem's own loop thread
"""

from __future__ import annotations

__all__ = [
    "BackendUnavailable",
    "BudgetExceeded",
    "ChangeNotFound",
    "ConfigurationError",
    "ConflictError",
    "ContentTooLarge",
    "EmbeddingModelMismatch",
    "EmptyContent",
    "ExportError",
    "InvalidContent",
    "InvalidInput",
    "LLMError",
    "LLMRequired",
    "LinkNotFound",
    "NotFound",
    "NoteNotFound",
    "ReentrantCall",
    "SchemaVersionError",
    "ScopeMismatch",
    "StoreCorrupt",
    "StoreError",
    "StoreLocked",
    "StoreNotFound",
    "StoreReadOnly",
    "StructuredOutputError",
    "ZettelmemError",
]


class ZettelmemError(Exception):
    """Root of every error zettelmem raises on purpose."""


class ConfigurationError(ZettelmemError, ValueError):
    """Settings are missing, contradictory or point at nothing usable."""


class EmbeddingModelMismatch(ConfigurationError):
    """The store's vectors were made by another embedding model or dimension."""


class InvalidInput(ZettelmemError, ValueError):
    """Input rejected before anything was written."""


class EmptyContent(InvalidInput):
    """Content is empty or whitespace only."""


class ContentTooLarge(InvalidInput):
    """Content exceeds the configured maximum size."""


class InvalidContent(InvalidInput):
    """Content or attributes contain bytes or characters zettelmem refuses."""


class ScopeMismatch(InvalidInput):
    """An item names a scope other than the ``scope`` argument of the call (nothing is written)."""


class NotFound(ZettelmemError, KeyError):
    """Something addressed by id does not exist (in this scope)."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else self.__class__.__name__


class NoteNotFound(NotFound):
    """No note with this id in this scope."""


class LinkNotFound(NotFound):
    """No such link."""


class ChangeNotFound(NotFound):
    """No change with this id."""


class StoreNotFound(NotFound):
    """A read-only open found no store where it was pointed (nothing is created)."""


class StoreError(ZettelmemError):
    """The graph or vector store failed."""


class StoreLocked(StoreError):
    """Another process has the store folder open for writing."""


class StoreReadOnly(StoreError):
    """A write was attempted on a store opened read-only."""


class StoreCorrupt(StoreError):
    """A store file exists but cannot be read."""


class BackendUnavailable(StoreError, ConnectionError):
    """A server (Neo4j, Chroma) cannot be reached."""


class SchemaVersionError(StoreError):
    """Schema migrations are missing, unknown or were edited after being applied."""


class ConflictError(StoreError):
    """A write lost an optimistic version check (someone else changed the note)."""


class LLMError(ZettelmemError):
    """A language-model call failed for good."""


class StructuredOutputError(LLMError):
    """A model reply could not be parsed into the expected schema."""


class BudgetExceeded(LLMError):
    """The call or token budget of an operation is spent."""


class LLMRequired(LLMError):
    """The LLM failed for some memories and ``required`` forbids building them offline;
    the chunk of memories being added is not written."""


class ExportError(ZettelmemError):
    """A graph export could not be written."""


class ReentrantCall(ZettelmemError, RuntimeError):
    """A sync ``Memory`` method was called from the engine's own loop thread.

    That thread is busy running the call that invoked you (for example an
    ``add_many`` progress callback), so waiting on it would deadlock. Use the
    async core (``mem.aio``) there, or make the call after the outer one returns.
    """
