"""A scripted :class:`~zettelmem.llm.protocol.StructuredLLM` for tests and benchmarks.

Replies are queued per task (or in one shared queue) and may be:

* a pydantic instance, a ``dict`` or a JSON ``str`` — validated against the requested
  schema exactly like a real reply, so a bad one triggers the same single repair
  attempt (the next queued reply answers the repair) and then
  :class:`~zettelmem.errors.StructuredOutputError`;
* an exception instance — raised as the call's failure (use :class:`LLMError`
  subclasses to simulate transport failures);
* a callable ``(messages, schema, task) -> any of the above`` (or an awaitable of
  it) — computed on demand.

Calls are counted in a :class:`~zettelmem.llm.accounting.UsageMeter` like the real
client; tokens are counted by ``count_tokens`` over the rendered messages plus the
JSON schema (as a tool definition is billed) and over the reply's JSON.
"""

from __future__ import annotations

import asyncio
import inspect
import json
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from zettelmem.errors import LLMError, StructuredOutputError
from zettelmem.llm.accounting import UsageMeter, tally
from zettelmem.llm.protocol import Message
from zettelmem.llm.repair import describe_error, repair_message

__all__ = ["ScriptedCall", "ScriptedLLM", "approx_tokens", "schema_text"]

T = TypeVar("T", bound=BaseModel)
Reply = Any  # BaseModel | dict | str | BaseException | Callable[..., Reply]


def approx_tokens(text: str) -> int:
    """A rough token count (about four characters per token)."""
    return (len(text) + 3) // 4


def schema_text(schema: type[BaseModel]) -> str:
    """The schema as the model sees it (a tool / response-format definition)."""
    return json.dumps(schema.model_json_schema(), separators=(",", ":"))


@dataclass(frozen=True)
class ScriptedCall:
    """One request the scripted model received (repair requests included)."""

    task: str
    messages: tuple[Message, ...]
    schema: type[BaseModel]


class ScriptedLLM:
    """Answers from a script; counts like :class:`~zettelmem.llm.openai_chat.OpenAIChatLLM`."""

    def __init__(
        self,
        replies: Iterable[Reply] | Mapping[str, Iterable[Reply]] = (),
        *,
        default: Callable[[Sequence[Message], type[BaseModel], str], Reply] | None = None,
        meter: UsageMeter | None = None,
        model_name: str = "scripted",
        count_tokens: Callable[[str], int] = approx_tokens,
        schema_text: Callable[[type[BaseModel]], str] = schema_text,
        delay: float = 0.0,
    ) -> None:
        """Create a scripted model.

        Args:
            replies: one queue for every task, or a queue per task label.
            default: computes a reply when the task's queue is empty.
            meter: where calls are counted (default: a new meter).
            model_name: reported in ``built_by.model``.
            count_tokens: token counter for prompts and replies.
            schema_text: how a schema is written into the request (counted as prompt).
            delay: seconds each request takes (to observe concurrency).
        """
        if isinstance(replies, Mapping):
            self._queues = {task: deque(q) for task, q in replies.items()}
            self._shared: deque[Reply] = deque()
        else:
            self._queues = {}
            self._shared = deque(replies)
        self.default = default
        self.meter = meter or UsageMeter()
        self.model_name = model_name
        self.count_tokens = count_tokens
        self.schema_text = schema_text
        self.delay = delay
        self.calls: list[ScriptedCall] = []
        self.in_flight = 0
        self.max_in_flight = 0

    def queue(self, *replies: Reply, task: str | None = None) -> None:
        """Append replies to a task's queue (or the shared one)."""
        (self._queues.setdefault(task, deque()) if task else self._shared).extend(replies)

    async def _next(self, messages: Sequence[Message], schema: type[BaseModel], task: str) -> Reply:
        q = self._queues.get(task)
        if q:
            reply = q.popleft()
        elif self._shared:
            reply = self._shared.popleft()
        elif self.default is not None:
            reply = self.default
        else:
            raise RuntimeError(f"ScriptedLLM: no reply queued for task {task!r}")
        while callable(reply) and not isinstance(reply, type | BaseModel):
            reply = reply(messages, schema, task)
            if inspect.isawaitable(reply):
                reply = await reply
        return reply

    def _prompt_tokens(self, messages: Sequence[Message], schema: type[BaseModel]) -> int:
        per_message = 4  # role and separators in the chat format
        body = sum(self.count_tokens(text) + per_message for _, text in messages)
        return body + self.count_tokens(self.schema_text(schema))

    async def _request(self, messages: Sequence[Message], schema: type[BaseModel], task: str) -> tuple[Any, str, int]:
        self.calls.append(ScriptedCall(task=task, messages=tuple(messages), schema=schema))
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            reply = await self._next(messages, schema, task)
        finally:
            self.in_flight -= 1
        if isinstance(reply, BaseException):
            raise reply
        if isinstance(reply, BaseModel):
            text = reply.model_dump_json()
        elif isinstance(reply, str):
            text = reply
        else:
            text = json.dumps(reply, ensure_ascii=False, default=str)
        return reply, text, self._prompt_tokens(messages, schema)

    async def complete(self, messages: Sequence[Message], schema: type[T], *, task: str) -> T:
        """Answer from the script, validating and repairing like the real client."""
        history = list(messages)
        with tally(self.meter, task, self.model_name) as t:
            for round_ in (0, 1):
                t.requests += 1
                try:
                    reply, text, p = await self._request(history, schema, task)
                except LLMError:
                    raise
                except (RuntimeError, asyncio.CancelledError):
                    raise
                except Exception as exc:
                    raise LLMError(f"scripted failure: {type(exc).__name__}: {exc}") from exc
                t.prompt_tokens += p
                t.completion_tokens += self.count_tokens(text)
                try:
                    if isinstance(reply, schema):
                        parsed = reply
                    elif isinstance(reply, str):
                        parsed = schema.model_validate_json(reply)
                    elif isinstance(reply, BaseModel):
                        parsed = schema.model_validate(reply.model_dump())
                    else:
                        parsed = schema.model_validate(reply)
                except ValidationError as exc:
                    t.error = describe_error(exc)
                    history = [*messages, repair_message(t.error, text, schema)]
                    continue
                t.outcome = "repaired" if round_ else "ok"
                return parsed
            raise StructuredOutputError(f"{task}: reply did not match {schema.__name__} after one repair: {t.error}")
