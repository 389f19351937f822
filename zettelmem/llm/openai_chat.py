"""The production :class:`~zettelmem.llm.protocol.StructuredLLM`: langchain-openai.

``ChatOpenAI(...).with_structured_output(schema, method=..., include_raw=True)`` against
any OpenAI-compatible server. The method defaults to ``auto``: the first call probes
the endpoint once per process (:mod:`zettelmem.llm.probe`) and uses ``json_schema``
where the server constrains decoding to it (OpenAI, vLLM, Ollama, llama.cpp's
server, which compiles it into a grammar), else ``function_calling`` (a named tool
call), else ``json_mode``; ``ZETTELMEM_LLM_STRUCTURED_METHOD`` names one to skip the
probe. In ``json_schema`` the schema is sent as written (not rewritten to OpenAI's
strict form, which would force every optional field) and the reply is validated here.

Failure policy of one :meth:`OpenAIChatLLM.complete` call:

* transport errors, timeouts, HTTP 408/409/425/429 and 5xx are retried up to
  ``max_retries`` times with exponential backoff and jitter (``Retry-After`` is
  honoured, capped at ``backoff_max``); the OpenAI client's own retries are off so
  every retry is counted here;
* a reply that is not valid JSON or violates the schema gets ONE repair attempt: the
  validation error and the previous reply go back to the model as data;
* anything else (400, 401, 403, 404, a second bad reply) raises
  :class:`~zettelmem.errors.StructuredOutputError` / :class:`~zettelmem.errors.LLMError`.

langchain-openai and httpx are imported lazily, on first use.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import random
import weakref
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from zettelmem.errors import ConfigurationError, LLMError, StructuredOutputError
from zettelmem.llm.accounting import Outcome, UsageMeter, tally
from zettelmem.llm.config import LLMSettings
from zettelmem.llm.probe import Method, cached_method, probe
from zettelmem.llm.protocol import Message
from zettelmem.llm.repair import describe_error, repair_message

__all__ = ["OpenAIChatLLM"]

T = TypeVar("T", bound=BaseModel)

_RETRY_STATUS = frozenset({408, 409, 425, 429})


@dataclass
class _LoopState:
    """A chat model and HTTP client bound to one event loop."""

    client: Any
    chat: Any
    runnables: dict[tuple[type[BaseModel], str], Any] = field(default_factory=dict)
    probe_lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class _Transient(Exception):
    """A failure worth retrying (wraps the driver exception)."""

    def __init__(self, exc: BaseException, retry_after: float | None) -> None:
        super().__init__(str(exc))
        self.exc = exc
        self.retry_after = retry_after


class OpenAIChatLLM:
    """Structured output from an OpenAI-compatible chat endpoint, counted and retried."""

    def __init__(
        self,
        settings: LLMSettings,
        *,
        meter: UsageMeter | None = None,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        """Create a client; nothing is connected until the first call.

        Args:
            settings: endpoint, model, timeout, retry and budget settings.
            meter: where calls are counted (default: a new meter with the settings' budgets).
            sleep: the backoff sleep (tests pass a fast one).

        Raises:
            ConfigurationError: langchain-openai is not installed.
        """
        if importlib.util.find_spec("langchain_openai") is None:
            raise ConfigurationError("the LLM agents need langchain-openai: pip install 'zettelmem[openai]'")
        self.settings = settings
        self.model_name = settings.model
        self.meter = meter or UsageMeter(budget_calls=settings.budget_calls, budget_tokens=settings.budget_tokens)
        self._sleep = sleep
        self._loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopState] = weakref.WeakKeyDictionary()

    # -- plumbing -------------------------------------------------------------------

    def _state(self) -> _LoopState:
        loop = asyncio.get_running_loop()
        state = self._loops.get(loop)
        if state is None:
            import httpx
            from langchain_openai import ChatOpenAI

            s = self.settings
            key = s.api_key.get_secret_value() if s.api_key is not None else ""
            client = httpx.AsyncClient(timeout=s.timeout)
            kwargs: dict[str, Any] = {
                "model": s.model,
                "base_url": s.base_url,
                # local OpenAI-compatible servers accept any key; the client needs one
                "api_key": key or "not-needed",
                "timeout": s.timeout,
                "max_retries": 0,  # retried (and counted) here
                "http_async_client": client,
            }
            if s.temperature is not None:
                kwargs["temperature"] = s.temperature
            if s.max_output_tokens is not None:
                kwargs["max_tokens"] = s.max_output_tokens
            state = _LoopState(client=client, chat=ChatOpenAI(**kwargs))
            self._loops[loop] = state
        return state

    def _runnable(self, schema: type[BaseModel], method: Method) -> Any:
        state = self._state()
        runnable = state.runnables.get((schema, method))
        if runnable is None:
            target: Any = schema
            if method == "json_schema":  # as written; validated in complete()
                target = {"name": schema.__name__, "schema": schema.model_json_schema()}
            runnable = state.chat.with_structured_output(target, method=method, include_raw=True)
            state.runnables[(schema, method)] = runnable
        return runnable

    @property
    def structured_method(self) -> Method | None:
        """The method in use: the configured one, or the probed one (None before the probe)."""
        configured = self.settings.structured_method
        if configured != "auto":
            return configured
        return cached_method(self.settings.base_url, self.model_name)

    async def _method(self) -> Method:
        """The configured method, or the endpoint's probed one (probed once per process)."""
        method = self.structured_method
        if method is not None:
            return method
        state = self._state()
        async with state.probe_lock:
            method = self.structured_method
            if method is not None:
                return method
            with tally(self.meter, "probe", self.model_name) as t:
                result = await probe(state.chat.root_async_client, self.model_name, self.settings.base_url)
                t.outcome, t.requests = "ok", result.requests
                t.prompt_tokens, t.completion_tokens = result.prompt_tokens, result.completion_tokens
            return result.method

    async def aclose(self) -> None:
        """Close the HTTP client of the running event loop (safe to call twice)."""
        state = self._loops.pop(asyncio.get_running_loop(), None)
        if state is not None:
            await state.client.aclose()

    @staticmethod
    def _classify(exc: BaseException) -> _Transient | None:
        import openai

        if isinstance(exc, openai.APIConnectionError):  # includes APITimeoutError
            return _Transient(exc, None)
        if isinstance(exc, openai.APIResponseValidationError):
            return _Transient(exc, None)
        if isinstance(exc, openai.APIStatusError):
            status = exc.status_code
            if status in _RETRY_STATUS or status >= 500:
                retry_after = None
                header = exc.response.headers.get("retry-after") if exc.response else None
                if header:
                    try:
                        retry_after = float(header)
                    except ValueError:
                        retry_after = None
                return _Transient(exc, retry_after)
        return None

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        s = self.settings
        if retry_after is not None:
            return min(max(retry_after, 0.0), s.backoff_max)
        base = min(s.backoff_max, s.backoff_initial * 2.0**attempt)
        return float(base * (0.5 + random.random() / 2))

    # -- the call -------------------------------------------------------------------

    async def _request(
        self, messages: list[Message], schema: type[BaseModel], method: Method, stats: dict[str, Any]
    ) -> dict[str, Any]:
        """One logical request with transport retries; returns the include_raw dict."""
        runnable = self._runnable(schema, method)
        attempt = 0
        while True:
            stats["requests"] += 1
            try:
                return dict(await runnable.ainvoke(list(messages)))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                transient = self._classify(exc)
                if transient is None:
                    raise LLMError(f"LLM request failed: {type(exc).__name__}: {exc}") from exc
                if attempt >= self.settings.max_retries:
                    raise LLMError(
                        f"LLM request failed after {attempt + 1} attempts: {type(exc).__name__}: {exc}"
                    ) from exc
                stats["retried"] = True
                await self._sleep(self._backoff(attempt, transient.retry_after))
                attempt += 1

    @staticmethod
    def _usage(raw: Any) -> tuple[int, int]:
        usage = getattr(raw, "usage_metadata", None) or {}
        return int(usage.get("input_tokens", 0) or 0), int(usage.get("output_tokens", 0) or 0)

    @staticmethod
    def _raw_text(raw: Any) -> str:
        """What the model said, for the repair message."""
        parts: list[str] = []
        for call in getattr(raw, "tool_calls", None) or []:
            parts.append(json.dumps(call.get("args"), ensure_ascii=False))
        for call in getattr(raw, "invalid_tool_calls", None) or []:
            parts.append(str(call.get("args")))
        content = getattr(raw, "content", "")
        if content:
            parts.append(content if isinstance(content, str) else json.dumps(content))
        return "\n".join(parts) or "(empty reply)"

    @staticmethod
    def _validate(out: dict[str, Any], schema: type[BaseModel]) -> None:
        """Validate a dict reply (``json_schema``) into ``schema`` in place."""
        parsed = out.get("parsed")
        if isinstance(parsed, dict) and out.get("parsing_error") is None:
            try:
                out["parsed"] = schema.model_validate(parsed)
            except ValidationError as exc:
                out["parsing_error"] = exc

    def _problem(self, out: dict[str, Any], schema: type[BaseModel], method: Method) -> str | None:
        parsed, error = out.get("parsed"), out.get("parsing_error")
        if error is not None:
            return describe_error(error)
        if isinstance(parsed, schema):
            return None
        invalid = getattr(out.get("raw"), "invalid_tool_calls", None)
        if invalid:
            detail = str(invalid[0].get("error") or "")
            detail = detail.split("Received ", 1)[-1].splitlines()[0] if detail else "unparsable"
            return f"the tool call arguments are not valid JSON ({detail})"
        if parsed is None:
            if method == "function_calling":
                return f"the reply did not call the tool {schema.__name__}"
            return "the reply was empty"
        return f"the reply is a {type(parsed).__name__}, not a {schema.__name__}"

    @staticmethod
    def _with_format(messages: Sequence[Message], schema: type[BaseModel], method: Method) -> list[Message]:
        """In ``json_mode`` the schema is not sent as a tool, so it goes into the prompt."""
        if method != "json_mode":
            return list(messages)
        spec = json.dumps(schema.model_json_schema(), separators=(",", ":"))
        tail = f"\n\nReply with one JSON object that matches this JSON schema:\n{spec}"
        out = list(messages)
        index = next((i for i, (role, _) in enumerate(out) if role == "system"), None)
        if index is None:
            return [("system", tail.strip()), *out]
        out[index] = ("system", out[index][1] + tail)
        return out

    async def complete(self, messages: Sequence[Message], schema: type[T], *, task: str) -> T:
        """Send ``messages``; return the reply validated as ``schema`` (see module doc)."""
        stats: dict[str, Any] = {"requests": 0, "retried": False}
        method = await self._method()
        messages = self._with_format(messages, schema, method)
        history = list(messages)
        with tally(self.meter, task, self.model_name) as t:
            try:
                for round_ in (0, 1):
                    out = await self._request(history, schema, method, stats)
                    p, c = self._usage(out.get("raw"))
                    t.prompt_tokens, t.completion_tokens = t.prompt_tokens + p, t.completion_tokens + c
                    self._validate(out, schema)
                    problem = self._problem(out, schema, method)
                    if problem is None:
                        retried: Outcome = "retried" if stats["retried"] else "ok"
                        t.outcome = "repaired" if round_ else retried
                        return out["parsed"]  # type: ignore[no-any-return]
                    t.error = problem
                    if round_ == 0:
                        history = [*messages, repair_message(problem, self._raw_text(out.get("raw")), schema)]
                raise StructuredOutputError(
                    f"{task}: reply did not match {schema.__name__} after one repair: {t.error}"
                )
            finally:
                t.requests = stats["requests"]
