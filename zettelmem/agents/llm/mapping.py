"""From domain objects to prompt views (under short ids) and from replies back.

Prompts never show real note ids: memories are ``m1, m2, …`` and notes ``n1, n2, …``
within one call, mapped back here. An id the model writes that was not offered
(or not offered *to that memory*) is dropped and recorded in the meter, so an
invented id is visible instead of silently becoming a dangling link.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TypeVar

from zettelmem.agents.base import EvolutionProposal, LinkProposal, MemoryInput, NoteDraft
from zettelmem.agents.llm.schemas import DuplicateOut, EvolveOut, Limits, LinkOut, MemoryView, NoteAttrs, NoteView
from zettelmem.agents.verdicts import TruthVerdict, link_verdicts
from zettelmem.llm.accounting import UsageMeter
from zettelmem.models import BuiltBy, MemoryType, Note, Relation
from zettelmem.text import clean_labels

__all__ = [
    "IdMap",
    "draft_from",
    "evolutions_from",
    "grounded",
    "links_from",
    "memory_view",
    "note_view",
    "parse_time",
    "unshare",
    "verdicts_from",
]

T = TypeVar("T", bound=NoteAttrs)

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_MAX_CONTEXT = 400


class IdMap:
    """Short ids (``n1`` …) for real ones, within one call."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self._short: dict[str, str] = {}  # real -> short
        self._real: dict[str, str] = {}  # short -> real

    def add(self, real: str) -> str:
        """The short id of ``real`` (assigned on first sight)."""
        short = self._short.get(real)
        if short is None:
            short = f"{self.prefix}{len(self._short) + 1}"
            self._short[real] = short
            self._real[short] = real
        return short

    def short(self, real: str) -> str:
        return self._short[real]

    def real(self, written: str) -> str | None:
        """The real id behind what the model wrote (case and spaces forgiven), or None."""
        return self._real.get(written.strip().strip("[]\"'").lower())

    def __len__(self) -> int:
        return len(self._short)


def _iso(value: datetime | None) -> str | None:
    """A short UTC timestamp for prompts: ``2023-05-08 13:56``, or the date at midnight."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    if (value.hour, value.minute, value.second) == (0, 0, 0):
        return value.date().isoformat()
    return value.strftime("%Y-%m-%d %H:%M")


def parse_time(value: str | None) -> datetime | None:
    """An ISO 8601 date or datetime from the model, or None if it is not one."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def memory_view(short: str, item: MemoryInput, candidates: list[str] | None = None) -> MemoryView:
    """A new memory as the model sees it."""
    return MemoryView(
        id=short,
        content=item.content,
        event_time=_iso(item.event_time),
        speaker=item.provenance.speaker,
        type_hint=item.memory_type,
        candidates=candidates,
    )


def note_view(short: str, note: Note, *, max_chars: int, similarity: float | None = None) -> NoteView:
    """An existing note as the model sees it (content cut at ``max_chars``)."""
    content = note.content if len(note.content) <= max_chars else note.content[:max_chars] + "…"
    return NoteView(
        id=short,
        content=content,
        context=note.context,
        keywords=list(note.keywords),
        tags=list(note.tags),
        memory_type=note.memory_type,
        event_time=_iso(note.event_time),
        similarity=None if similarity is None else round(similarity, 2),
    )


def _clean_context(text: str) -> str:
    text = re.sub(r"\s+", " ", _CONTROL.sub(" ", text)).strip()
    return text[:_MAX_CONTEXT]


_TYPE_NAMES = frozenset(t.value for t in MemoryType)
_WORD = re.compile(r"[^\W_]{3,}")


def _words(text: str, size: int = 4) -> set[str]:
    return {w.casefold() for w in _WORD.findall(text) if len(w) >= size}


def grounded(labels: Iterable[str], text: str) -> list[str]:
    """The labels with a word (3+ letters) that occurs in ``text`` (case-insensitively)."""
    low = text.casefold()
    return [label for label in labels if any(w.casefold() in low for w in _WORD.findall(label))]


def unshare(entries: Mapping[str, T], texts: Mapping[str, str], note_contexts: Iterable[str] = ()) -> dict[str, T]:
    """Entries with attributes copied from another memory (or a shown note) taken back.

    Small models copy the first entry's attributes onto later memories. A context
    written for several memories stays only on the one whose text shares the most
    words with it (and only if it shares any); a context copied from a shown note
    stays only if it shares a word with the memory's own text; keywords and entities
    equal to another entry's keep only the ones found in the memory's own text.

    Args:
        entries: the reply's entries by short memory id.
        texts: each memory's content by short memory id.
        note_contexts: the contexts of the notes shown in the prompt.
    """

    def key(text: str) -> str:
        return " ".join(text.casefold().split())

    notes = {key(c) for c in note_contexts if c.strip()}
    by_context: dict[str, list[str]] = {}
    for short, e in entries.items():
        if e.context.strip():
            by_context.setdefault(key(e.context), []).append(short)
    out = dict(entries)
    for ctx, owners in by_context.items():
        shared = [(len(_words(ctx) & _words(texts[m])), m) for m in owners]
        keep = max(shared, key=lambda x: x[0])[1]
        for overlap, m in shared:
            if (len(owners) > 1 or ctx in notes) and (m != keep or overlap == 0):
                out[m] = out[m].model_copy(update={"context": ""})
    for field in ("keywords", "entities"):
        seen: dict[frozenset[str], list[str]] = {}
        for short, e in entries.items():
            values = frozenset(v.casefold() for v in getattr(e, field))
            if values:
                seen.setdefault(values, []).append(short)
        for owners in seen.values():
            if len(owners) > 1:
                for m in owners:
                    out[m] = out[m].model_copy(update={field: grounded(getattr(out[m], field), texts[m])})
    return out


def _said_when(value: datetime | None, text: str) -> datetime | None:
    """A model's event time only if the memory names its year (small models invent dates)."""
    return value if value is not None and str(value.year) in text else None


def draft_from(attrs: NoteAttrs, item: MemoryInput, limits: Limits, built_by: BuiltBy) -> NoteDraft:
    """A note draft from the model's attributes; the caller's hints win. Memory type
    names are neither tags nor keywords (small models put them there); entities must
    occur in the memory's text."""
    tags = [t for t in attrs.tags if str(t).strip().casefold() not in _TYPE_NAMES]
    keywords = [k for k in attrs.keywords if str(k).strip().casefold() not in _TYPE_NAMES]
    return NoteDraft(
        keywords=clean_labels(keywords, limits.max_keywords, strict=False),
        tags=clean_labels(tags, limits.max_tags, strict=False, lower=True),
        context=_clean_context(attrs.context),
        memory_type=item.memory_type or attrs.memory_type,
        entities=clean_labels(grounded(attrs.entities, item.content), 32, strict=False),  # as written
        event_time=item.event_time or _said_when(parse_time(attrs.event_time), item.content),
        built_by=built_by,
    )


def links_from(
    outs: Sequence[LinkOut],
    ids: IdMap,
    offered: set[str],
    *,
    limits: Limits,
    meter: UsageMeter,
    task: str,
) -> list[LinkProposal]:
    """Link proposals to offered notes only (others dropped and recorded), strongest
    first, one per (target, relation), at most ``limits.max_links``."""
    links: list[LinkProposal] = []
    seen: set[tuple[str, str]] = set()
    for out in outs:
        real = ids.real(out.target)
        if real is None or real not in offered:
            reason = "not offered" if real is None else "not offered to this memory"
            meter.record_dropped(task, "link", out.target, reason)
            continue
        if out.relation == Relation.SUMMARIZES:  # written by consolidation only, never by an agent
            meter.record_dropped(task, "link", out.target, "summarizes is made by consolidation")
            continue
        if (real, out.relation.value) in seen:
            continue
        seen.add((real, out.relation.value))
        links.append(
            LinkProposal(
                target_id=real,
                relation=out.relation,
                weight=out.weight,
                rationale=_clean_context(out.rationale),
            )
        )
    links.sort(key=lambda link: -link.weight)
    return links[: limits.max_links]


def evolutions_from(
    outs: Sequence[EvolveOut],
    ids: IdMap,
    linked: dict[str, Note],
    *,
    limits: Limits,
    meter: UsageMeter,
    task: str,
    agent: BuiltBy,
) -> list[EvolutionProposal]:
    """Evolution proposals for linked notes only (others dropped and recorded); fields
    equal to the note's current value are left out, empty proposals skipped, one per note.

    ``expected_version`` is the version of the note as it was offered, for the
    engine's optimistic check.
    """
    proposals: list[EvolutionProposal] = []
    done: set[str] = set()
    for out in outs:
        real = ids.real(out.target)
        note = linked.get(real) if real is not None else None
        if note is None:
            reason = "not offered" if real is None else "not linked by this memory"
            meter.record_dropped(task, "evolution", out.target, reason)
            continue
        if real in done:
            continue
        keywords = clean_labels(out.keywords, limits.max_keywords, strict=False) if out.keywords else None
        tags = clean_labels(out.tags, limits.max_tags, strict=False, lower=True) if out.tags else None
        context = _clean_context(out.context) if out.context else None
        memory_type: MemoryType | None = out.memory_type
        if keywords == note.keywords:
            keywords = None
        if tags == note.tags:
            tags = None
        if context == note.context:
            context = None
        if memory_type == note.memory_type:
            memory_type = None
        if keywords is None and tags is None and context is None and memory_type is None:
            continue
        done.add(note.id)
        proposals.append(
            EvolutionProposal(
                target_id=note.id,
                expected_version=note.version,
                keywords=keywords,
                tags=tags,
                context=context,
                memory_type=memory_type,
                rationale=_clean_context(out.rationale),
                agent=agent,
            )
        )
    return proposals


def verdicts_from(
    links: Sequence[LinkProposal],
    duplicates: Sequence[DuplicateOut],
    ids: IdMap,
    offered: set[str],
    *,
    meter: UsageMeter,
    task: str,
    agent: BuiltBy,
) -> list[TruthVerdict]:
    """The model's truth verdicts: its ``supersedes`` / ``contradicts`` links (already
    mapped) and the offered notes it says the memory duplicates (others dropped and
    recorded, one per note). The engine guards them like any agent's verdicts."""
    out = link_verdicts(links, agent)
    seen: set[str] = set()
    for dup in duplicates:
        real = ids.real(dup.target)
        if real is None or real not in offered:
            reason = "not offered" if real is None else "not offered to this memory"
            meter.record_dropped(task, "duplicate", dup.target, reason)
            continue
        if real in seen:
            continue
        seen.add(real)
        out.append(TruthVerdict(target_id=real, verdict="duplicates", confidence=0.9,
                                rationale=_clean_context(dup.rationale) or "the model: same fact", agent=agent))
    return out
