"""Reading memories from JSON Lines, and the dialogue bundled with zettelmem.

One JSON object per line::

    {"content": "I moved to Lisbon.", "speaker": "Ana", "session": "1", "turn": 3,
     "time": "2024-03-02T18:30:00", "tags": ["move"], "metadata": {"photo": "..."}}

Only ``content`` is required. ``time`` is ISO 8601 (naive times are taken as
UTC); ``memory_type`` is one of :class:`~zettelmem.MemoryType`; ``source`` names
where the memory came from (default: the file name and line). Blank lines and
lines starting with ``#`` are skipped. Every line is checked before anything is
stored, and a bad line is reported with its number.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

from zettelmem.errors import InvalidInput
from zettelmem.models import MemoryType, Provenance

__all__ = ["KEYS", "Record", "bundled_dialogue", "parse_jsonl", "parse_record", "read_jsonl"]

KEYS = frozenset({"content", "speaker", "session", "turn", "time", "tags", "metadata", "memory_type", "source"})


@dataclass
class Record:
    """One memory read from a JSONL line: the item for ``Memory.add_many`` plus its tags."""

    line: int
    item: dict[str, Any]
    tags: list[str] = field(default_factory=list)


def _fail(where: str, message: str) -> InvalidInput:
    return InvalidInput(f"{where}: {message}")


def _record(obj: Any, where: str, source: str, line: int, speaker_prefix: bool) -> Record:
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
    item: dict[str, Any] = {
        "content": f"{speaker}: {content}" if speaker_prefix and speaker and not content.startswith(f"{speaker}:")
        else content,
        "provenance": Provenance(source=str(obj.get("source") or f"{source}:{line}"), speaker=speaker,
                                 session=None if session is None else str(session), turn=turn),
        "metadata": metadata,
    }
    if when is not None:
        item["event_time"] = when
    if obj.get("memory_type") is not None:
        try:
            item["memory_type"] = MemoryType(obj["memory_type"])
        except ValueError:
            allowed = ", ".join(m.value for m in MemoryType)
            raise _fail(where, f"'memory_type' must be one of {allowed}") from None
    return Record(line=line, item=item, tags=list(tags))


def parse_record(obj: Any, source: str = "<record>", *, line: int = 1, speaker_prefix: bool = False) -> Record:
    """Check one memory object (the shape of a JSONL line) and turn it into a :class:`Record`."""
    return _record(obj, source, source, line, speaker_prefix)


def parse_jsonl(text: str, source: str = "<jsonl>", *, speaker_prefix: bool = False) -> list[Record]:
    """Parse JSON Lines text into records (raises :class:`InvalidInput` naming the bad line).

    Args:
        text: the file's text.
        source: a name for provenance and error messages.
        speaker_prefix: store ``"Speaker: content"`` so the memory says who spoke.
    """
    out: list[Record] = []
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        where = f"{source}, line {n}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise _fail(where, f"not valid JSON ({exc.msg}, column {exc.colno})") from None
        out.append(_record(obj, where, source, n, speaker_prefix))
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
