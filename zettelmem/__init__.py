"""zettelmem: an agentic, evolving Zettelkasten memory graph for LLM agents."""

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
    ZettelmemError,
)
from zettelmem.filters import Filter
from zettelmem.models import BuiltBy, Change, Link, MemoryType, Note, Provenance, Relation, Scope

__version__ = "0.1.0"

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
    "Usage",
    "ZettelmemError",
]
