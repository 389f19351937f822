"""``structured_method="auto"``: ask the endpoint once which structured output it honours.

Servers differ: OpenAI, vLLM, Ollama and llama.cpp's server constrain decoding to a
``response_format`` JSON schema (llama.cpp compiles it into a grammar), while some
servers ignore it; llama.cpp's server rejects a ``tool_choice`` object naming the
function (it wants a string), falls back to ``auto`` and the model writes the call
as unconstrained text. So the first call of a process to an endpoint sends tiny
probes, in order, and keeps the first method whose reply is exactly right:

1. ``json_schema`` — a response format with one enum property the prompt does not
   mention: only a server that really constrains decoding answers it;
2. ``function_calling`` — a named tool call with that schema as arguments;
3. ``json_mode`` otherwise (the schema goes into the prompt), the most portable.

The result is cached per process and endpoint (base URL and model), logged on the
``zettelmem.llm`` logger, and skipped entirely when
``ZETTELMEM_LLM_STRUCTURED_METHOD`` names a method. A probe that cannot reach the
endpoint raises :class:`~zettelmem.errors.LLMError` and caches nothing.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from typing import Any, Literal

from zettelmem.errors import LLMError

__all__ = ["Method", "ProbeResult", "cached_method", "forget", "probe", "remember"]

Method = Literal["function_calling", "json_schema", "json_mode"]

log = logging.getLogger("zettelmem.llm")

_NAME = "zettelmem_probe"
_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"probe": {"type": "string", "enum": ["zettelmem"]}},
    "required": ["probe"],
    "additionalProperties": False,
}
_EXPECTED = {"probe": "zettelmem"}
_MESSAGES = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "Say hello in three words."},
]
_MAX_TOKENS = 48

_cache: dict[tuple[str | None, str], Method] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class ProbeResult:
    """The chosen method, why, and what the probes cost."""

    method: Method
    reason: str
    requests: int
    prompt_tokens: int
    completion_tokens: int


def cached_method(base_url: str | None, model: str) -> Method | None:
    """The method probed earlier in this process for this endpoint, if any."""
    with _lock:
        return _cache.get((base_url, model))


def remember(base_url: str | None, model: str, method: Method) -> None:
    """Cache a method for this endpoint (the probe does it; tests may too)."""
    with _lock:
        _cache[(base_url, model)] = method


def forget() -> None:
    """Drop every cached result (tests)."""
    with _lock:
        _cache.clear()


def _json(text: Any) -> Any:
    if not isinstance(text, str):
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


async def probe(client: Any, model: str, base_url: str | None) -> ProbeResult:
    """Probe ``client`` (an ``openai.AsyncOpenAI``) and cache the result for the endpoint.

    Raises:
        LLMError: the endpoint could not be reached (nothing is cached).
    """
    import openai

    requests = prompt = completion = 0
    notes: list[str] = []

    async def ask(**kwargs: Any) -> Any:
        nonlocal requests, prompt, completion
        requests += 1
        reply = await client.chat.completions.create(
            model=model, messages=_MESSAGES, temperature=0, max_tokens=_MAX_TOKENS, **kwargs
        )
        usage = getattr(reply, "usage", None)
        prompt += int(getattr(usage, "prompt_tokens", 0) or 0)
        completion += int(getattr(usage, "completion_tokens", 0) or 0)
        return reply.choices[0].message if reply.choices else None

    attempts: list[tuple[Method, dict[str, Any]]] = [
        ("json_schema", {"response_format": {
            "type": "json_schema", "json_schema": {"name": _NAME, "schema": _SCHEMA}}}),
        ("function_calling", {
            "tools": [{"type": "function", "function": {
                "name": _NAME, "description": "Report the probe value.", "parameters": _SCHEMA}}],
            "tool_choice": {"type": "function", "function": {"name": _NAME}}}),
    ]
    chosen: Method = "json_mode"
    for method, kwargs in attempts:
        try:
            message = await ask(**kwargs)
        except (openai.APIConnectionError, openai.RateLimitError, openai.InternalServerError) as exc:
            raise LLMError(f"structured-output probe failed: {type(exc).__name__}: {exc}") from exc
        except openai.APIStatusError as exc:  # 4xx: this method is not supported
            notes.append(f"{method}: HTTP {exc.status_code}")
            continue
        if method == "json_schema":
            ok = _json(getattr(message, "content", None)) == _EXPECTED
        else:
            calls = getattr(message, "tool_calls", None) or []
            ok = bool(calls) and calls[0].function.name == _NAME and _json(calls[0].function.arguments) == _EXPECTED
        if ok:
            chosen = method
            break
        notes.append(f"{method}: reply not constrained")
    reason = "; ".join(notes) or "first probe honoured"
    remember(base_url, model, chosen)
    log.info("structured output for %s at %s: %s (probed: %s)", model, base_url or "OpenAI", chosen, reason)
    return ProbeResult(chosen, reason, requests, prompt, completion)
