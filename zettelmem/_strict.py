"""Strict configuration: an unknown key or a bad value is a :class:`ConfigurationError`.

Shared by :mod:`zettelmem.config` and :mod:`zettelmem.llm.config` (a leaf: it
imports only pydantic and the error tree).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from zettelmem.errors import ConfigurationError

__all__ = ["StrictModel", "config_error"]


def config_error(what: str, exc: ValidationError) -> ConfigurationError:
    """A pydantic validation error as one line per problem: ``where: what is wrong``."""
    problems = "; ".join(
        f"{'.'.join(str(p) for p in e.get('loc', ())) or what}: {e.get('msg')}" for e in exc.errors()
    )
    return ConfigurationError(f"invalid {what}: {problems}")


class StrictModel(BaseModel):
    """A config section: unknown keys are errors, and errors are ConfigurationError."""

    model_config = ConfigDict(extra="forbid")

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise config_error(type(self).__name__, exc) from exc
