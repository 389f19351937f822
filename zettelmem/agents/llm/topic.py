"""The LLM topic writer: a topic note's text, written abstractively from its members in one call.

Consolidation (:mod:`zettelmem.engine.consolidate`) asks for one text per topic note
it created or grew in a pass. The model sees the members under short ids inside a
data block (prompt ``agents/topic_v1.md``) and replies :class:`TopicReply`. The
engine holds the text to the grounding rule (:func:`zettelmem.engine.guards.check_summary`)
and keeps the extractive text, with a fallback reason, when the call fails or the
text is not grounded.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, Field

from zettelmem.agents.base import TopicText
from zettelmem.agents.llm.mapping import IdMap, note_view
from zettelmem.agents.llm.render import data_block, fill, load_template
from zettelmem.agents.llm.runtime import Runtime, fallback_reason
from zettelmem.agents.llm.schemas import NoteView
from zettelmem.errors import LLMError
from zettelmem.llm.protocol import Message
from zettelmem.models import Note

__all__ = ["TOPIC_CHARS", "LLMTopicWriter", "TopicContext", "TopicHead", "TopicReply", "render_topic"]

#: The longest topic text asked for (a longer reply is cut at a sentence end).
TOPIC_CHARS = 600


class TopicHead(BaseModel):
    """The topic note's key, shown in a data block."""

    speaker: str = ""


class TopicContext(BaseModel):
    """What the model sees to write one topic note."""

    topic: TopicHead
    members: list[NoteView]
    max_chars: int = TOPIC_CHARS


class TopicReply(BaseModel):
    """The topic note's text."""

    summary: str = Field(description="the topic note's text: only what the notes say")


def render_topic(ctx: TopicContext) -> list[Message]:
    """Messages of one topic call (the members of one topic note)."""
    template = load_template("topic")
    values = {"topic": data_block("topic", ctx.topic), "max_chars": str(ctx.max_chars),
              "members": data_block("notes", ctx.members)}
    return [("system", fill(template.system, values)), ("user", fill(template.user, values))]


def _cut(text: str, limit: int) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    head = text[:limit]
    end = max(head.rfind(". "), head.rfind("! "), head.rfind("? "))
    return head[: end + 1] if end > 0 else head


class LLMTopicWriter:
    """Writes topic notes' text with the suite's model (one call per topic note)."""

    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime

    async def write(self, speaker: str, members: Sequence[Note]) -> TopicText:
        """The text of a topic note of ``speaker`` gathering ``members``; never raises for a failed call."""
        rt = self.rt
        ids = IdMap("n")
        views = [note_view(ids.add(m.id), m, max_chars=rt.settings.candidate_chars) for m in members]
        ctx = TopicContext(topic=TopicHead(speaker=speaker), members=views)
        with rt.meter.ensure_operation():
            try:
                async with rt.limiter:
                    reply = await rt.llm.complete(render_topic(ctx), TopicReply, task="topic")
            except LLMError as exc:
                reason = fallback_reason(exc)
                rt.meter.record_fallback("topic", reason, 1)
                return TopicText(text=None, built_by=None, fallback_reason=reason)
        text = _cut(reply.summary, 2 * TOPIC_CHARS)
        if not text:
            rt.meter.record_fallback("topic", "empty_summary", 1)
            return TopicText(text=None, built_by=None, fallback_reason="empty_summary")
        return TopicText(text=text, built_by=rt.built_by("topic"))
