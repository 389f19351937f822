"""The typed seam between agents and language models.

Agents depend only on :class:`StructuredLLM`: a list of ``(role, text)`` messages
and a pydantic response model in, a validated instance of that model out. The
production implementation is :class:`zettelmem.llm.openai_chat.OpenAIChatLLM`
(langchain-openai); tests and benchmarks use :class:`zettelmem.llm.scripted.ScriptedLLM`.

Implementations must:

* raise :class:`~zettelmem.errors.LLMError` (or a subclass) for every failure, after
  their own retries and one repair attempt — never a driver exception;
* raise :class:`~zettelmem.errors.BudgetExceeded` before calling when the current
  operation's budget is spent;
* record every call in their :class:`~zettelmem.llm.accounting.UsageMeter`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel

from zettelmem.llm.accounting import UsageMeter

__all__ = ["Message", "Role", "StructuredLLM"]

Role = Literal["system", "user", "assistant"]
Message = tuple[Role, str]

T = TypeVar("T", bound=BaseModel)


@runtime_checkable
class StructuredLLM(Protocol):
    """A chat model that answers with an instance of a given pydantic model."""

    meter: UsageMeter
    model_name: str

    async def complete(self, messages: Sequence[Message], schema: type[T], *, task: str) -> T:
        """Send ``messages``; return the reply validated as ``schema``.

        Args:
            messages: ``(role, text)`` pairs, system first.
            schema: the pydantic model the reply must match.
            task: a short label for accounting (``"joint"``, ``"build"``, …).

        Raises:
            BudgetExceeded: the current operation's call or token budget is spent.
            StructuredOutputError: the reply did not match ``schema`` after one repair.
            LLMError: transport failed for good (after retries) or the request was refused.
        """
        ...
