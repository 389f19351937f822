"""LLM settings, read from ``ZETTELMEM_LLM_*`` environment variables when constructed.

Nothing calls a model unless :meth:`LLMSettings.is_configured` is true (a base URL
or an API key is set); otherwise the offline agents run. Example::

    ZETTELMEM_LLM_BASE_URL=http://127.0.0.1:8000/v1 ZETTELMEM_LLM_MODEL=qwen2.5-7b-instruct
    ZETTELMEM_LLM_API_KEY=sk-...            # OpenAI itself (base URL may stay unset)
    ZETTELMEM_LLM_MODE=staged               # separate build / link / evolve calls
    ZETTELMEM_LLM_STRUCTURED_METHOD=json_schema   # skip the probe (default: auto)
    ZETTELMEM_LLM_REQUIRED=1                # fail instead of building notes offline
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from zettelmem._strict import config_error

__all__ = ["LLMSettings"]


class LLMSettings(BaseSettings):
    """How to reach an OpenAI-compatible chat model and how hard to use it."""

    model_config = SettingsConfigDict(env_prefix="ZETTELMEM_LLM_", extra="forbid")

    model: str = "gpt-4o-mini"
    base_url: str | None = None  # any OpenAI-compatible server (vLLM, llama.cpp, Ollama)
    api_key: SecretStr | None = None
    timeout: float = Field(default=60.0, gt=0)  # seconds per HTTP request
    max_retries: int = Field(default=3, ge=0, le=20)  # transport errors, 429, 5xx, timeouts
    backoff_initial: float = Field(default=0.5, ge=0)  # seconds, doubled per retry, jittered
    backoff_max: float = Field(default=20.0, ge=0)
    max_concurrency: int = Field(default=4, ge=1, le=256)
    temperature: float | None = Field(default=0.0, ge=0.0, le=2.0)  # None: not sent
    max_output_tokens: int | None = Field(default=None, ge=1)
    mode: Literal["joint", "staged"] = "joint"
    batch_size: int = Field(default=4, ge=1, le=64)  # memories packed into one call
    # auto: probe the endpoint once per process (json_schema, else function_calling, else json_mode)
    structured_method: Literal["auto", "function_calling", "json_schema", "json_mode"] = "auto"
    required: bool = False  # True: a failed LLM call is an error (LLMRequired), never an offline-built note
    candidate_chars: int = Field(default=600, ge=50)  # neighbour content shown per note
    budget_calls: int | None = Field(default=None, ge=0)  # per operation (add / add_many)
    budget_tokens: int | None = Field(default=None, ge=0)

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:  # an unknown key or a bad value: one typed error
            raise config_error("LLM settings", exc) from exc

    def is_configured(self) -> bool:
        """True iff a base URL or an API key is set: only then is a model ever called."""
        key = self.api_key.get_secret_value() if self.api_key is not None else ""
        return bool(self.base_url) or bool(key)
