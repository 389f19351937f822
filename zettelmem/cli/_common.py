"""What every CLI command shares: global options, opening the memory, errors, JSON output.

Exit codes: 0 success; 1 the operation failed (store, LLM, export, a check that
found problems); 2 the input was refused (bad arguments or file, unknown id,
bad configuration). Errors from the :class:`~zettelmem.ZettelmemError` tree are
printed as one red line on stderr, never as a traceback.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import typer
from pydantic import BaseModel, ValidationError
from rich.console import Console
from rich.markup import escape

from zettelmem.errors import ConfigurationError, InvalidInput, NoteNotFound, NotFound, ZettelmemError
from zettelmem.models import Note, Scope

__all__ = [
    "EXIT_FAILED",
    "EXIT_REFUSED",
    "State",
    "console",
    "err_console",
    "exit_code",
    "guard",
    "parse_time",
    "print_json",
    "resolve_note",
]

EXIT_FAILED = 1
EXIT_REFUSED = 2



def _console(stderr: bool = False) -> Console:
    """A console; when output is not a terminal (pipe, file, test) it is 120 columns unless $COLUMNS says."""
    c = Console(stderr=stderr, highlight=False)
    if not c.is_terminal and "COLUMNS" not in os.environ:
        c.width = 120
    return c


console = _console()
err_console = _console(stderr=True)

P = ParamSpec("P")
R = TypeVar("R")


@dataclass
class State:
    """Global options, set by the app callback and read by every command."""

    home: Path | None = None  # --home as given (None: ZETTELMEM_HOME, else ~/.zettelmem)
    scope: Scope = field(default_factory=Scope)
    json: bool = False
    offline: bool = False

    def resolved_home(self) -> Path:
        from zettelmem.config import default_home

        if self.home is not None:
            return self.home
        env = os.environ.get("ZETTELMEM_HOME")
        return Path(env) if env else default_home()

    def settings(self, home: Path | None = None, **overrides: Any) -> Any:
        from zettelmem.config import Settings

        if self.offline:
            overrides.setdefault("use_llm", False)
        try:
            return Settings(home=(home or self.resolved_home()).expanduser(), **overrides)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ()))
            raise ConfigurationError(f"invalid configuration {where}: {first.get('msg')}") from exc

    @contextmanager
    def memory(self, home: Path | None = None, **overrides: Any) -> Iterator[Any]:
        from zettelmem.engine.sync import Memory

        mem = Memory(self.settings(home, **overrides))
        try:
            yield mem
        finally:
            mem.close()


def get_state(ctx: typer.Context) -> State:
    obj = ctx.find_root().obj
    return obj if isinstance(obj, State) else State()


def exit_code(exc: ZettelmemError) -> int:
    """2 when the input was refused, 1 when the operation failed."""
    return EXIT_REFUSED if isinstance(exc, InvalidInput | NotFound | ConfigurationError) else EXIT_FAILED


def fail(message: str, code: int = EXIT_FAILED) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)
    return typer.Exit(code)


def guard(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn ZettelmemError into one red line and exit code 1/2 (no traceback)."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except ZettelmemError as exc:
            message = " ".join(str(exc).split()) or type(exc).__name__
            raise fail(f"{message} [{type(exc).__name__}]", exit_code(exc)) from None
        except KeyboardInterrupt:
            raise fail("interrupted; what was acknowledged before is stored", 130) from None

    return wrapper


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, BaseModel):
        return obj.model_dump(mode="json")
    if isinstance(obj, list | tuple):
        return [_jsonable(o) for o in obj]
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, datetime):
        return obj.isoformat()
    return obj


def print_json(obj: Any) -> None:
    """Write ``obj`` as JSON to stdout (models dumped in JSON mode)."""
    sys.stdout.write(json.dumps(_jsonable(obj), ensure_ascii=False, indent=2) + "\n")
    sys.stdout.flush()


def parse_time(value: str | None, what: str = "time") -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{what} must be ISO 8601 (e.g. 2024-03-02 or 2024-03-02T18:30), not {value!r}") from None


def resolve_note(mem: Any, scope: Scope, ident: str) -> Note:
    """A note by full id or by a unique id prefix (as the tables print them)."""
    ident = ident.strip()
    try:
        return mem.get(ident, scope)  # type: ignore[no-any-return]
    except NoteNotFound:
        if len(ident) < 4 or len(ident) >= 32:
            raise
    found = [n for n in mem.list(scope) if n.id.startswith(ident)]
    if not found:
        raise NoteNotFound(f"no note {ident!r} in scope {scope}")
    if len(found) > 1:
        raise InvalidInput(f"id prefix {ident!r} matches {len(found)} notes; give more characters")
    return found[0]  # type: ignore[no-any-return]
