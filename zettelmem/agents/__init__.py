"""Agents that build, link and evolve notes: offline algorithms and LLM-backed ones."""

from zettelmem.agents.base import (
    AgentSuite,
    Candidate,
    Decision,
    EvolutionProposal,
    LinkProposal,
    MemoryInput,
    NoteDraft,
)

__all__ = [
    "AgentSuite",
    "Candidate",
    "Decision",
    "EvolutionProposal",
    "LinkProposal",
    "MemoryInput",
    "NoteDraft",
]
