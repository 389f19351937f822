"""zettelmem: an agentic, evolving Zettelkasten memory graph for LLM agents.

The public names are imported on first use (PEP 562), so ``import zettelmem`` and
the CLI's start-up stay light; ``from zettelmem import Memory`` works as usual.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from zettelmem.agents.base import AgentSuite, MemoryInput
    from zettelmem.config import (
        ChromaLocalConfig,
        ChromaServerConfig,
        LLMSettings,
        Neo4jConfig,
        NetworkXConfig,
        OnnxEmbeddingConfig,
        OpenAIEmbeddingConfig,
        Settings,
    )
    from zettelmem.engine.core import AsyncMemory
    from zettelmem.engine.results import AddResult, CheckReport, Reason, SearchHit, Usage
    from zettelmem.engine.sync import Memory
    from zettelmem.errors import (
        BackendUnavailable,
        ConflictError,
        ContentTooLarge,
        EmbeddingModelMismatch,
        EmptyContent,
        InvalidContent,
        InvalidInput,
        NoteNotFound,
        ReentrantCall,
        ScopeMismatch,
        StoreCorrupt,
        StoreLocked,
        StoreNotFound,
        StoreReadOnly,
        ZettelmemError,
    )
    from zettelmem.filters import Filter
    from zettelmem.models import BuiltBy, Change, Link, MemoryType, Note, Provenance, Relation, Scope

__version__ = "0.1.0"

#: Where each public name lives.
_LAZY: dict[str, str] = {
    "AddResult": "zettelmem.engine.results",
    "AgentSuite": "zettelmem.agents.base",
    "AsyncMemory": "zettelmem.engine.core",
    "BackendUnavailable": "zettelmem.errors",
    "BuiltBy": "zettelmem.models",
    "Change": "zettelmem.models",
    "CheckReport": "zettelmem.engine.results",
    "ChromaLocalConfig": "zettelmem.config",
    "ChromaServerConfig": "zettelmem.config",
    "ConflictError": "zettelmem.errors",
    "ContentTooLarge": "zettelmem.errors",
    "EmbeddingModelMismatch": "zettelmem.errors",
    "EmptyContent": "zettelmem.errors",
    "Filter": "zettelmem.filters",
    "InvalidContent": "zettelmem.errors",
    "InvalidInput": "zettelmem.errors",
    "LLMSettings": "zettelmem.config",
    "Link": "zettelmem.models",
    "Memory": "zettelmem.engine.sync",
    "MemoryInput": "zettelmem.agents.base",
    "MemoryType": "zettelmem.models",
    "Neo4jConfig": "zettelmem.config",
    "NetworkXConfig": "zettelmem.config",
    "Note": "zettelmem.models",
    "NoteNotFound": "zettelmem.errors",
    "OnnxEmbeddingConfig": "zettelmem.config",
    "OpenAIEmbeddingConfig": "zettelmem.config",
    "Provenance": "zettelmem.models",
    "Reason": "zettelmem.engine.results",
    "ReentrantCall": "zettelmem.errors",
    "Relation": "zettelmem.models",
    "Scope": "zettelmem.models",
    "ScopeMismatch": "zettelmem.errors",
    "SearchHit": "zettelmem.engine.results",
    "Settings": "zettelmem.config",
    "StoreCorrupt": "zettelmem.errors",
    "StoreLocked": "zettelmem.errors",
    "StoreNotFound": "zettelmem.errors",
    "StoreReadOnly": "zettelmem.errors",
    "Usage": "zettelmem.engine.results",
    "ZettelmemError": "zettelmem.errors",
}

__all__ = [
    "AddResult",
    "AgentSuite",
    "AsyncMemory",
    "BackendUnavailable",
    "BuiltBy",
    "Change",
    "CheckReport",
    "ChromaLocalConfig",
    "ChromaServerConfig",
    "ConflictError",
    "ContentTooLarge",
    "EmbeddingModelMismatch",
    "EmptyContent",
    "Filter",
    "InvalidContent",
    "InvalidInput",
    "LLMSettings",
    "Link",
    "Memory",
    "MemoryInput",
    "MemoryType",
    "Neo4jConfig",
    "NetworkXConfig",
    "Note",
    "NoteNotFound",
    "OnnxEmbeddingConfig",
    "OpenAIEmbeddingConfig",
    "Provenance",
    "Reason",
    "ReentrantCall",
    "Relation",
    "Scope",
    "ScopeMismatch",
    "SearchHit",
    "Settings",
    "StoreCorrupt",
    "StoreLocked",
    "StoreNotFound",
    "StoreReadOnly",
    "Usage",
    "ZettelmemError",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'zettelmem' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
