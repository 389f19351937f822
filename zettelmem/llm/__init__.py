"""The structured-LLM seam, its langchain-openai adapter, a scripted double, accounting.

``OpenAIChatLLM`` is importable from here but langchain-openai itself is only
imported when the first request is made.
"""

from __future__ import annotations

from zettelmem.llm.accounting import CallRecord, DroppedId, Fallback, OperationUsage, UsageMeter
from zettelmem.llm.config import LLMSettings
from zettelmem.llm.openai_chat import OpenAIChatLLM
from zettelmem.llm.protocol import Message, Role, StructuredLLM
from zettelmem.llm.scripted import ScriptedLLM

__all__ = [
    "CallRecord",
    "DroppedId",
    "Fallback",
    "LLMSettings",
    "Message",
    "OpenAIChatLLM",
    "OperationUsage",
    "Role",
    "ScriptedLLM",
    "StructuredLLM",
    "UsageMeter",
]
