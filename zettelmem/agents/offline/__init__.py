"""Offline agents: real algorithms, no LLM, labelled ``built_by.kind == "offline"``."""

from zettelmem.agents.base import AgentSuite
from zettelmem.agents.offline.builder import OfflineNoteBuilder
from zettelmem.agents.offline.evolver import OfflineEvolver
from zettelmem.agents.offline.linker import OfflineLinker
from zettelmem.agents.offline.truth import OfflineTruthJudge
from zettelmem.config import AgentsConfig

__all__ = ["OfflineEvolver", "OfflineLinker", "OfflineNoteBuilder", "OfflineTruthJudge", "offline_suite"]


def offline_suite(config: AgentsConfig | None = None) -> AgentSuite:
    """The three offline agents as one suite."""
    config = config or AgentsConfig()
    return AgentSuite(
        builder=OfflineNoteBuilder(config),
        linker=OfflineLinker(config),
        evolver=OfflineEvolver(config),
        name="offline",
        truth=OfflineTruthJudge(),
    )
