"""LLM agents: joint (one call per pack of memories) and staged (build / link / evolve).

Build a suite with :func:`llm_suite`; :func:`select_suite` applies the rule "nothing
calls a model unless it is configured"::

    suite = select_suite(settings.llm, settings.agents, offline_suite(settings.agents), use_llm=settings.use_llm)
    meter = suite.meter                       # UsageMeter, for stats and add results
"""

from __future__ import annotations

from zettelmem.agents.base import AgentSuite
from zettelmem.agents.llm.joint import JointLLMAgent
from zettelmem.agents.llm.runtime import Limiter, Runtime
from zettelmem.agents.llm.staged import LLMEvolver, LLMLinker, LLMNoteBuilder
from zettelmem.agents.llm.topic import LLMTopicWriter
from zettelmem.config import AgentsConfig
from zettelmem.errors import ConfigurationError
from zettelmem.llm.config import LLMSettings
from zettelmem.llm.openai_chat import OpenAIChatLLM
from zettelmem.llm.protocol import StructuredLLM

__all__ = [
    "JointLLMAgent",
    "LLMEvolver",
    "LLMLinker",
    "LLMNoteBuilder",
    "LLMTopicWriter",
    "Limiter",
    "Runtime",
    "llm_suite",
    "select_suite",
]


def llm_suite(
    settings: LLMSettings,
    agents: AgentsConfig,
    offline: AgentSuite,
    llm: StructuredLLM | None = None,
) -> AgentSuite:
    """The LLM agent suite, falling back to ``offline`` per memory when a call fails.

    Args:
        settings: model, endpoint, mode (``joint`` / ``staged``), batch size, budgets.
        agents: loop tuning shared with the offline agents (limits, evolve on/off).
        offline: the offline suite used as the fallback.
        llm: the structured model (default: :class:`OpenAIChatLLM` from ``settings``).

    Returns:
        A suite named ``llm-joint`` or ``llm-staged`` with its ``meter``
        (:class:`~zettelmem.llm.accounting.UsageMeter`), ``llm``, ``offline`` and
        ``aclose`` (closes the HTTP client of the running loop).

    Raises:
        ConfigurationError: no ``llm`` given and no LLM configured.
    """
    if llm is None:
        if not settings.is_configured():
            raise ConfigurationError("no LLM configured: set ZETTELMEM_LLM_BASE_URL or ZETTELMEM_LLM_API_KEY")
        llm = OpenAIChatLLM(settings)
    meter = llm.meter
    if settings.budget_calls is not None:
        meter.budget_calls = settings.budget_calls
    if settings.budget_tokens is not None:
        meter.budget_tokens = settings.budget_tokens
    runtime = Runtime(llm=llm, settings=settings, agents=agents, offline=offline)
    joint = settings.mode == "joint"
    return AgentSuite(
        builder=LLMNoteBuilder(runtime),
        linker=LLMLinker(runtime),
        evolver=LLMEvolver(runtime),
        joint=JointLLMAgent(runtime) if joint else None,
        name="llm-joint" if joint else "llm-staged",
        meter=meter,
        llm=llm,
        offline=offline,
        aclose=getattr(llm, "aclose", None),
        topics=LLMTopicWriter(runtime),
    )


def select_suite(
    settings: LLMSettings,
    agents: AgentsConfig,
    offline: AgentSuite,
    *,
    use_llm: bool | None = None,
    llm: StructuredLLM | None = None,
) -> AgentSuite:
    """The LLM suite if wanted and configured, else ``offline``.

    ``use_llm=None`` means "iff an LLM is configured (or ``llm`` is given)";
    ``True`` insists (and raises if nothing is configured); ``False`` never calls one.

    Raises:
        ConfigurationError: ``use_llm=True`` with no LLM configured.
    """
    if use_llm is False:
        return offline
    if use_llm is None and llm is None and not settings.is_configured():
        return offline
    return llm_suite(settings, agents, offline, llm)
