"""Prompt files and their rendering: pure functions from context models to messages.

Prompt files live in the top-level ``agents/`` folder (``<task>_v<version>.md``) and
ship in the wheel as the resource package ``zettelmem.agents.prompts``; from a source
checkout they are read from the folder itself. A file has a ``## system`` and a
``## user`` section; ``{{name}}`` placeholders are filled from the context model.

Memory and note text only ever enters a prompt inside a data block::

    <data name="memories">
    [
    {"id":"m1","content":"..."}
    ]
    </data>

whose JSON has ``<``, ``>`` and ``&`` escaped, so no content can close the block;
each system prompt says that data is never instructions.
"""

from __future__ import annotations

import importlib.resources
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from zettelmem.agents.llm.schemas import (
    BuildContext,
    EvolveContext,
    JointContext,
    Limits,
    LinkContext,
)
from zettelmem.llm.protocol import Message

__all__ = [
    "PROMPT_FILES",
    "PromptTemplate",
    "data_block",
    "fill",
    "load_template",
    "parse_template",
    "prompt_version",
    "render_build",
    "render_evolve",
    "render_joint",
    "render_link",
]

#: The prompt file each task uses (pinned: a new version is a new file and a code change).
PROMPT_FILES: dict[str, str] = {
    "joint": "joint_v3.md",
    "build": "build_v2.md",
    "link": "link_v2.md",
    "evolve": "evolve_v1.md",
}

_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")
_SECTION = re.compile(r"^## (system|user)[ \t]*$", re.MULTILINE)
_COMMENT = re.compile(r"\A\s*<!--.*?-->\s*", re.DOTALL)
_VERSION = re.compile(r"_v(\w+)\.md\Z")
_EVOLVE_OFF = ' Updates are switched off for this memory store: leave every "evolve" list empty.'


@dataclass(frozen=True)
class PromptTemplate:
    """A parsed prompt file."""

    task: str
    version: str
    system: str
    user: str


def prompt_version(task: str) -> str:
    """The version of the prompt file a task uses (``"1"`` for ``joint_v1.md``)."""
    match = _VERSION.search(PROMPT_FILES[task])
    return match.group(1) if match else "0"


def _read_prompt(filename: str) -> str:
    try:
        return importlib.resources.files("zettelmem.agents.prompts").joinpath(filename).read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError, NotADirectoryError):
        pass  # not installed as a package: read the source checkout's folder
    return (Path(__file__).resolve().parents[3] / "agents" / filename).read_text(encoding="utf-8")


def parse_template(text: str, *, task: str, version: str) -> PromptTemplate:
    """Split a prompt file into its system and user sections.

    Raises:
        ValueError: a section is missing or appears twice.
    """
    body = _COMMENT.sub("", text, count=1)
    parts = _SECTION.split(body)
    sections: dict[str, str] = {}
    for name, content in zip(parts[1::2], parts[2::2], strict=True):
        if name in sections:
            raise ValueError(f"prompt {task} v{version}: section {name!r} appears twice")
        sections[name] = content.strip()
    missing = {"system", "user"} - sections.keys()
    if missing or parts[0].strip():
        raise ValueError(
            f"prompt {task} v{version}: needs exactly '## system' and '## user' sections (missing: {sorted(missing)})"
        )
    return PromptTemplate(task=task, version=version, system=sections["system"], user=sections["user"])


@cache
def load_template(task: str) -> PromptTemplate:
    """The parsed prompt file of a task (cached)."""
    return parse_template(_read_prompt(PROMPT_FILES[task]), task=task, version=prompt_version(task))


def fill(text: str, values: Mapping[str, str]) -> str:
    """Replace ``{{name}}`` placeholders; an unknown placeholder is an error.

    Raises:
        KeyError: a placeholder has no value.
    """

    def sub(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise KeyError(f"prompt placeholder {{{{{name}}}}} has no value")
        return values[name]

    return _PLACEHOLDER.sub(sub, text)


_KEEP_EMPTY = frozenset({"candidates"})  # an empty candidate list means "link to nothing"


def _compact(value: Any) -> Any:
    """Drop empty fields (None, "", []) so prompts carry no noise."""
    if isinstance(value, dict):
        return {
            k: _compact(v) for k, v in value.items() if v is not None and (k in _KEEP_EMPTY or v not in ("", [], {}))
        }
    if isinstance(value, list):
        return [_compact(v) for v in value]
    return value


def _json(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def data_block(name: str, items: Sequence[BaseModel] | BaseModel) -> str:
    """A delimited JSON data block: one object, or an array with one object per line."""
    if isinstance(items, BaseModel):
        inner = _json(_compact(items.model_dump(mode="json")))
    else:
        rows = [_json(_compact(item.model_dump(mode="json"))) for item in items]
        inner = "[\n" + ",\n".join(rows) + "\n]" if rows else "[]"
    return f'<data name="{name}">\n{inner}\n</data>'


def _limit_values(limits: Limits) -> dict[str, str]:
    return {
        "max_links": str(limits.max_links),
        "max_keywords": str(limits.max_keywords),
        "max_tags": str(limits.max_tags),
        "evolve_off": "" if limits.evolve else _EVOLVE_OFF,
    }


def _messages(task: str, values: Mapping[str, str]) -> list[Message]:
    template = load_template(task)
    return [("system", fill(template.system, values)), ("user", fill(template.user, values))]


def render_joint(ctx: JointContext) -> list[Message]:
    """Messages of one joint call (build + link + evolve for several memories)."""
    return _messages(
        "joint",
        {
            **_limit_values(ctx.limits),
            "memories": data_block("memories", ctx.memories),
            "notes": data_block("notes", ctx.notes),
        },
    )


def render_build(ctx: BuildContext) -> list[Message]:
    """Messages of one build call (several memories)."""
    return _messages("build", {**_limit_values(ctx.limits), "memories": data_block("memories", ctx.memories)})


def render_link(ctx: LinkContext) -> list[Message]:
    """Messages of one link call (one new note, its candidates)."""
    return _messages(
        "link",
        {
            **_limit_values(ctx.limits),
            "note": data_block("note", ctx.note),
            "candidates": data_block("candidates", ctx.candidates),
        },
    )


def render_evolve(ctx: EvolveContext) -> list[Message]:
    """Messages of one evolve call (one new note, the notes it links to)."""
    return _messages(
        "evolve",
        {
            **_limit_values(ctx.limits),
            "trigger": data_block("note", ctx.trigger),
            "linked": data_block("linked", ctx.linked),
        },
    )
