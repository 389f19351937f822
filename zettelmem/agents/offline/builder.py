"""Offline NoteBuilder: YAKE keyphrases, proper-name entities, typed by cue words.

Keyphrases come from YAKE (a statistical, unsupervised extractor: no embedding of
candidate phrases, so a memory costs one embedding in all). Entities are runs of
capitalised words that do not start a sentence. The memory type is chosen by
cue patterns in priority order: resource (URL/file), procedural (how-to,
imperative), core (identity, lasting preference), episodic (a dated or
past-tense event), else semantic. The context is a one-line template built only
from those extracted parts, so it never claims more than the text says.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import yake

from zettelmem.agents.base import MemoryInput, NoteDraft
from zettelmem.config import AgentsConfig
from zettelmem.models import BuiltBy, MemoryType
from zettelmem.text import STOPWORDS, stem, tokens

__all__ = ["OfflineNoteBuilder", "clean_phrase", "entities_of", "guess_type", "split_speaker"]

AGENT = BuiltBy(kind="offline", agent="offline-builder", version="1")

_PREFIX = re.compile(r"^\s*(?:\[(?P<date>[^\]]{1,60})\]\s*)?(?:(?P<speaker>[A-Z][\w'.-]{0,30}(?: [A-Z][\w'.-]{0,30}){0,2}):\s+)?")
_PROPER = re.compile(r"(?<![.!?]\s)(?<!^)\b([A-Z][a-z]+(?:\s+[A-Z][a-z]+)*)")
_URL = re.compile(r"https?://\S+|\b\S+\.(?:pdf|docx?|png|jpe?g|csv|xlsx?)\b", re.I)
_PROCEDURAL = re.compile(
    r"\b(how to|step \d|steps?:|first,? (?:you|we)|make sure|remember to|in order to|recipe|instructions?)\b"
    r"|^(?:use|run|add|install|click|open|set|put|mix|preheat|call|press|type)\b",
    re.I,
)
_CORE = re.compile(
    r"\b(my name is|i am an? |i'm an? |i identify|i always|i never|i prefer|my favou?rite|i believe|"
    r"i value|allergic|i live in|i was born)\b",
    re.I,
)
_EPISODIC = re.compile(
    r"\b(yesterday|today|tonight|last (?:week|month|year|night|weekend)|ago|this (?:morning|week|weekend)|"
    r"went|did|saw|met|got|had|took|made|visited|started|finished|bought|tried|just)\b|\b\w+ed\b",
    re.I,
)
#: Words that make a keyphrase vague (time deixis, fillers, evaluations).
_VAGUE = STOPWORDS | set(
    "yesterday today tomorrow tonight week weekend month year ago time day night morning lately recently "
    "great good nice cool awesome amazing glad happy sounds totally definitely actually pretty".split()
)
_SENTENCE_START = re.compile(r"(?:^|[.!?]\s+|\n)([A-Z][a-z]+)")
#: Verbs of naming: "a beagle called Biscuit" gives the name, never "called Biscuit".
_NAMING = frozenset("call calls called calling name names named naming nicknamed dubbed titled".split())


def clean_phrase(phrase: str, body: str) -> str | None:
    """A keyphrase without function words or naming verbs at its ends, as it stands in ``body``.

    "beagle called" -> "beagle", "called Biscuit" -> "Biscuit"; a phrase whose words
    are not contiguous in the text ("Nong works" out of "Nong's works") is dropped.
    """
    words = phrase.split()
    while words and (words[0].lower() in STOPWORDS or words[0].lower() in _NAMING):
        words = words[1:]
    while words and (words[-1].lower() in STOPWORDS or words[-1].lower() in _NAMING):
        words = words[:-1]
    if not words:
        return None
    phrase = " ".join(words)
    pattern = r"(?<![\w'])" + r"\s+".join(re.escape(w) for w in words) + r"(?![\w'])"
    if not re.search(pattern, body, re.I):
        return None
    return phrase


def split_speaker(content: str) -> tuple[str | None, str]:
    """Split a leading ``[date] Speaker:`` prefix from the body of a turn."""
    m = _PREFIX.match(content)
    speaker = m.group("speaker") if m else None
    body = content[m.end() :] if m else content
    return (speaker.strip() if speaker else None), body


def entities_of(body: str) -> list[str]:
    """Proper names: capitalised runs not at a sentence start (plus repeated starters)."""
    starters = {m.group(1) for m in _SENTENCE_START.finditer(body)}
    found: dict[str, None] = {}
    for m in _PROPER.finditer(body):
        name = m.group(1)
        first = name.split()[0]
        if first.lower() in STOPWORDS or (name in starters and body.count(name) == 1):
            continue
        found.setdefault(name, None)
    return list(found)[:10]


def guess_type(body: str, has_time: bool) -> MemoryType:
    """Memory type by cue patterns, in priority order."""
    if _URL.search(body):
        return MemoryType.RESOURCE
    if _PROCEDURAL.search(body):
        return MemoryType.PROCEDURAL
    if _CORE.search(body):
        return MemoryType.CORE
    if _EPISODIC.search(body):
        return MemoryType.EPISODIC
    return MemoryType.SEMANTIC


class OfflineNoteBuilder:
    """Builds note attributes from the text alone."""

    def __init__(self, config: AgentsConfig | None = None) -> None:
        self.config = config or AgentsConfig()
        self._yake = yake.KeywordExtractor(lan="en", n=2, top=self.config.max_keywords + 4, dedupLim=0.7)

    def keywords(self, body: str, exclude: set[str], names: set[str]) -> list[str]:
        """YAKE keyphrases, best first, cleaned (:func:`clean_phrase`), without vague words or phrases already covered."""
        out: list[str] = []
        covered: set[str] = set()  # stems of the phrases kept so far
        for raw, _score in self._yake.extract_keywords(body):
            phrase = clean_phrase(raw, body)
            if phrase is None:
                continue
            words = tokens(phrase)
            if not words or any(w in _VAGUE for w in words) or phrase.lower() in exclude:
                continue
            stems = {stem(w) for w in words}
            if stems <= covered:  # "Lena" after "sister Lena" adds nothing
                continue
            covered |= stems
            proper = any(w in names for w in phrase.split())
            out.append(phrase if proper else phrase.lower())
            if len(out) >= self.config.max_keywords:
                break
        return out

    def build_one(self, item: MemoryInput) -> NoteDraft:
        speaker, body = split_speaker(item.content)
        speaker = item.provenance.speaker or speaker
        exclude = {speaker.lower()} if speaker else set()
        entities = [e for e in entities_of(body) if e != speaker]
        keywords = self.keywords(body, exclude, {w for e in entities for w in e.split()})
        tags: list[str] = []
        for kw in keywords:
            for word in tokens(kw):
                if word not in STOPWORDS and len(word) > 2 and word not in tags and word not in exclude:
                    tags.append(word)
        tags = tags[: self.config.max_tags]
        memory_type = item.memory_type or guess_type(body, item.event_time is not None)
        who = speaker or "Note"
        about = ", ".join(keywords[:3]) if keywords else body.strip()[:60]
        when = f" ({item.event_time:%-d %B %Y})" if item.event_time else ""
        context = f"{who} on {about}{when}."
        return NoteDraft(
            keywords=keywords,
            tags=tags,
            context=context,
            memory_type=memory_type,
            entities=entities,
            event_time=item.event_time,
            built_by=AGENT,
        )

    async def build(self, items: Sequence[MemoryInput]) -> list[NoteDraft]:
        return [self.build_one(item) for item in items]
