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

from zettelmem.errors import (
    ChangeNotFound,
    ConfigurationError,
    InvalidInput,
    NoteNotFound,
    NotFound,
    StoreError,
    StoreNotFound,
    ZettelmemError,
)
from zettelmem.models import Change, Note, Scope

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
    "resolve_change",
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
    def memory(self, home: Path | None = None, *, read: bool = False, **overrides: Any) -> Iterator[Any]:
        """Open the memory; ``read`` opens it read-only and refuses a folder that holds no store."""
        from zettelmem.engine.sync import Memory

        settings = self.settings(home, **overrides)
        created = check_home(settings, read=read)
        try:
            mem = Memory(settings, read_only=read)
        except PermissionError as exc:
            raise StoreError(f"cannot open memory folder {settings.home}: permission denied ({exc.filename})"
                             + ("" if read else "; read commands open it read-only")) from None
        except OSError as exc:
            raise StoreError(f"cannot open memory folder {settings.home}: {exc.strerror or exc}") from None
        if created:
            err_console.print(f"created a new memory at {settings.home}", style="dim", markup=False)
        try:
            yield mem
        finally:
            mem.close()


def check_home(settings: Any, *, read: bool) -> bool:
    """Refuse a home that cannot be a memory folder; True if a write command will create a new store.

    A home that is a file is refused. A read command refuses a folder (embedded
    backend) that holds no store instead of creating an empty one — almost always
    a mistyped ``--home``. A write command refuses a folder it cannot write.
    """
    from zettelmem.config import NetworkXConfig

    home = Path(settings.home)
    if home.exists() and not home.is_dir():
        raise ConfigurationError(f"--home {home} is a file, not a memory folder")
    for parent in home.parents:
        if parent.exists() and not parent.is_dir():
            raise ConfigurationError(f"--home {home}: {parent} is a file, not a folder")
    if not isinstance(settings.graph, NetworkXConfig):
        return False
    graph = Path(settings.graph_path())
    if graph.exists():
        if not read and not os.access(graph.parent, os.W_OK):
            raise StoreError(f"memory folder {graph.parent} is not writable (read commands still work)")
        return False
    if read:
        raise StoreNotFound(f"no memory at {home} (no {graph.name}): check --home / ZETTELMEM_HOME; "
                            "`zettelmem add` or `ingest` creates one")
    existing = next((p for p in (home, *home.parents) if p.exists()), None)
    if existing is not None and not os.access(existing, os.W_OK):
        raise StoreError(f"cannot create a memory at {home}: {existing} is not writable")
    return True


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


def _changes_in_scope(mem: Any, scope: Scope) -> list[Change]:
    from zettelmem.stores.base import GetChanges

    return list(mem.aio.graph.batch([GetChanges(scope)])[0])


def resolve_change(mem: Any, scope: Scope, ident: str) -> str:
    """A change id from a full id or a unique prefix of at least 4 characters (as ``history`` prints them)."""
    ident = ident.strip()
    if len(ident) >= 32:
        return ident
    if len(ident) < 4:
        raise InvalidInput(f"change id {ident!r} is too short; give at least 4 characters")
    found = sorted({c.id for c in _changes_in_scope(mem, scope) if c.id.startswith(ident)})
    if not found:
        raise ChangeNotFound(f"no change {ident!r} in scope {scope}")
    if len(found) > 1:
        raise InvalidInput(f"change id prefix {ident!r} matches {len(found)} changes; give more characters")
    return found[0]


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
