"""The engine's parts in one typed bundle, passed to the engine's functions.

:class:`~zettelmem.engine.core.AsyncMemory` opens the backends once and holds an
:class:`EngineParts`; the ingest pipeline (:mod:`~zettelmem.engine.pipeline`),
retrieval (:mod:`~zettelmem.engine.search`) and the history/health passes
(:mod:`~zettelmem.engine.history`) are functions of it, so none of them reaches
into ``AsyncMemory`` and none of them imports it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from zettelmem.agents.base import AgentSuite
from zettelmem.config import Settings
from zettelmem.embeddings import Embedder
from zettelmem.stores.base import GraphStore
from zettelmem.vectors.base import VectorIndex

__all__ = ["EngineParts"]


@dataclass(frozen=True, slots=True)
class EngineParts:
    """Settings, stores, embedder and agents of one memory (lexical search is the graph store's)."""

    settings: Settings
    graph: GraphStore
    vectors: VectorIndex
    embedder: Embedder
    agents: AgentSuite

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts`` in a worker thread (one row per text)."""
        return await asyncio.to_thread(self.embedder.embed, list(texts))

    def usage(self) -> dict[str, int]:
        """The LLM meter's running totals (empty with offline agents)."""
        meter = self.agents.meter
        return dict(meter.totals()) if meter is not None else {}
