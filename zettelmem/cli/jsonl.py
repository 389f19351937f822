"""Reading memories from JSON Lines, and the dialogue bundled with zettelmem.

One JSON object per line::

    {"content": "I moved to Lisbon.", "speaker": "Ana", "session": "1", "turn": 3,
     "time": "2024-03-02T18:30:00", "tags": ["move"], "metadata": {"photo": "..."}}

Only ``content`` is required. ``time`` is ISO 8601 (naive times are taken as
UTC); ``memory_type`` is one of :class:`~zettelmem.MemoryType`; ``source`` names
where the memory came from (default: the file name and line); ``id`` is the
line's idempotency key. Blank lines and lines starting with ``#`` are skipped.
Every field of every line is checked before anything is stored, and a bad line
is reported with its number.

Each record carries an idempotency key: its ``id`` when given, else a hash of
the file name and the line's text (and how many identical lines came before
it). The engine records the key with the note (``provenance.extra``) and in the
store's meta, so ingesting the same file again adds only the lines not yet
stored (see :mod:`zettelmem.cli._ingest`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

from zettelmem.engine import validate
from zettelmem.engine.ingest_keys import KEY_FIELD
from zettelmem.errors import InvalidInput
from zettelmem.models import MemoryType, Provenance
from zettelmem.text import clean_label

__all__ = ["INGEST_KEY", "KEYS", "Record", "bundled_dialogue", "line_key", "parse_jsonl", "parse_record", "read_jsonl"]

INGEST_KEY = KEY_FIELD  # provenance.extra key holding a record's idempotency key
KEYS = frozenset({"id", "content", "speaker", "session", "turn", "time", "tags", "metadata", "memory_type", "source"})


@dataclass
class Record:
    """One memory read from a JSONL line: the item for ``Memory.add_many``, its tags and key."""

    line: int
    item: dict[str, Any]
    tags: list[str] = field(default_factory=list)
    key: str = ""


def line_key(source: str, text: str, repeat: int = 0) -> str:
    """The idempotency key of a line without ``id``: a hash of the file name and the line."""
    digest = hashlib.blake2b(f"{source}\n{text}\n{repeat}".encode(), digest_size=12).hexdigest()
    return f"h:{digest}"


def _fail(where: str, message: str) -> InvalidInput:
    return InvalidInput(f"{where}: {message}")


def _record(obj: Any, where: str, source: str, line: int, speaker_prefix: bool, key: str | None) -> Record:
    if not isinstance(obj, dict):
        raise _fail(where, f"expected a JSON object, got {type(obj).__name__}")
    unknown = sorted(set(obj) - KEYS)
    if unknown:
        raise _fail(where, f"unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(KEYS))}")
    content = obj.get("content")
    if not isinstance(content, str) or not content.strip():
        raise _fail(where, "'content' must be a non-empty string")
    speaker = obj.get("speaker")
    if speaker is not None and (not isinstance(speaker, str) or not speaker.strip()):
        raise _fail(where, "'speaker' must be a non-empty string")
    session = obj.get("session")
    if session is not None and not isinstance(session, str | int):
        raise _fail(where, "'session' must be a string")
    turn = obj.get("turn")
    if turn is not None and (not isinstance(turn, int) or isinstance(turn, bool)):
        raise _fail(where, "'turn' must be an integer")
    when = None
    if obj.get("time") is not None:
        try:
            when = datetime.fromisoformat(str(obj["time"]))
        except ValueError:
            raise _fail(where, f"'time' is not ISO 8601: {obj['time']!r}") from None
    tags = obj.get("tags") or []
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise _fail(where, "'tags' must be a list of strings")
    metadata = obj.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise _fail(where, "'metadata' must be an object")
    given = obj.get("id")
    if given is not None and (not isinstance(given, str | int) or isinstance(given, bool) or not str(given).strip()):
        raise _fail(where, "'id' must be a non-empty string or integer")
    try:
        tags = [clean_label(t) for t in tags]
        validate.metadata(metadata)
        for name in ("content", "speaker", "source"):
            if isinstance(obj.get(name), str):
                validate.text(obj[name], f"'{name}'", max_chars=1_000_000)
        if session is not None:
            validate.text(str(session), "'session'", max_chars=1_000)
        if given is not None:
            validate.text(str(given), "'id'", max_chars=validate.MAX_ID_CHARS)
    except InvalidInput as exc:
        raise _fail(where, str(exc)) from None
    key = f"id:{given}" if given is not None else key
    item: dict[str, Any] = {
        "content": f"{speaker}: {content}" if speaker_prefix and speaker and not content.startswith(f"{speaker}:")
        else content,
        "provenance": Provenance(source=str(obj.get("source") or f"{source}:{line}"), speaker=speaker,
                                 session=None if session is None else str(session), turn=turn,
                                 extra={INGEST_KEY: key} if key else {}),
        "metadata": metadata,
    }
    if tags:
        item["tags"] = tags
    if when is not None:
        item["event_time"] = when
    if obj.get("memory_type") is not None:
        try:
            item["memory_type"] = MemoryType(obj["memory_type"])
        except ValueError:
            allowed = ", ".join(m.value for m in MemoryType)
            raise _fail(where, f"'memory_type' must be one of {allowed}") from None
    return Record(line=line, item=item, tags=list(tags), key=key or "")


def parse_record(obj: Any, source: str = "<record>", *, line: int = 1, speaker_prefix: bool = False) -> Record:
    """Check one memory object (the shape of a JSONL line) and turn it into a :class:`Record`.

    It has an idempotency key only when the object gives an ``id``.
    """
    return _record(obj, source, source, line, speaker_prefix, None)


def parse_jsonl(text: str, source: str = "<jsonl>", *, speaker_prefix: bool = False) -> list[Record]:
    """Parse JSON Lines text into records (raises :class:`InvalidInput` naming the bad line).

    Args:
        text: the file's text.
        source: a name for provenance and error messages.
        speaker_prefix: store ``"Speaker: content"`` so the memory says who spoke.
    """
    out: list[Record] = []
    seen: dict[str, int] = {}  # line text -> times seen (identical lines get distinct keys)
    ids: dict[str, int] = {}  # key -> first line
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        where = f"{source}, line {n}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise _fail(where, f"not valid JSON ({exc.msg}, column {exc.colno})") from None
        repeat = seen.get(line, 0)
        seen[line] = repeat + 1
        rec = _record(obj, where, source, n, speaker_prefix, line_key(source, line, repeat))
        if rec.key in ids:
            raise _fail(where, f"'id' {rec.key[3:]!r} was already used on line {ids[rec.key]}")
        ids[rec.key] = n
        out.append(rec)
    return out


def read_jsonl(path: str | Path, *, speaker_prefix: bool = False) -> list[Record]:
    """Read a JSONL file of memories (see :func:`parse_jsonl`)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidInput(f"no such file: {p}") from None
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{p} is not UTF-8 text: {exc}") from exc
    except OSError as exc:
        raise InvalidInput(f"cannot read {p}: {exc.strerror or exc}") from exc
    return parse_jsonl(text, p.name, speaker_prefix=speaker_prefix)


def bundled_dialogue(*, speaker_prefix: bool = True) -> list[Record]:
    """The small three-session dialogue (Maya and Jonas) that ships with zettelmem."""
    text = resources.files("zettelmem.data").joinpath("dialogue.jsonl").read_text(encoding="utf-8")
    return parse_jsonl(text, "dialogue.jsonl", speaker_prefix=speaker_prefix)
