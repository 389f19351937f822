"""Shared text helpers: tokenising, stop words, stemming, content validation."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

import snowballstemmer

from zettelmem.errors import ContentTooLarge, EmptyContent, InvalidContent

__all__ = ["STOPWORDS", "clean_content", "clean_label", "clean_labels", "stem", "terms", "tokens"]

_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'\-]*")

STOPWORDS = frozenset(
    """a about above after again against all also am an and any are aren't as at be because
    been before being below between both but by can can't cannot could couldn't did didn't do
    does doesn't doing don't down during each few for from further get got had hadn't has hasn't
    have haven't having he he'd he'll he's her here here's hers herself him himself his how how's
    i i'd i'll i'm i've if in into is isn't it it's its itself just let's like me more most mustn't
    my myself no nor not now of off on once only or other ought our ours ourselves out over own
    really same shan't she she'd she'll she's should shouldn't so some such than that that's the
    their theirs them themselves then there there's these they they'd they'll they're they've this
    those through to too under until up very was wasn't we we'd we'll we're we've were weren't what
    what's when when's where where's which while who who's whom why why's will with won't would
    wouldn't you you'd you'll you're you've your yours yourself yourselves yeah yes oh hey hi wow
    lot lots thing things really much many well gonna wanna ok okay sure thanks thank one two
    also even still yet ever way since going go know think make made see say said want
    """.split()
)

_stemmer = snowballstemmer.stemmer("english")


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """Snowball stem of a lower-case word (cached)."""
    return str(_stemmer.stemWord(word))


def tokens(text: str) -> list[str]:
    """Lower-case word tokens, possessives stripped."""
    out = []
    for m in _WORD.finditer(text):
        w = m.group(0).lower().strip("'-")
        if w.endswith("'s"):
            w = w[:-2]
        if w:
            out.append(w)
    return out


def terms(text: str) -> list[str]:
    """Stemmed content terms: tokens minus stop words, for lexical matching."""
    return list(_terms(text))


@lru_cache(maxsize=100_000)
def _terms(text: str) -> tuple[str, ...]:
    return tuple(stem(t) for t in tokens(text) if t not in STOPWORDS and len(t) > 1)


def clean_content(content: object, max_chars: int) -> str:
    """Validate raw memory content; raise a typed error instead of storing junk."""
    if isinstance(content, bytes | bytearray):
        try:
            content = bytes(content).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidContent(f"content is not valid UTF-8: {exc}") from exc
    if not isinstance(content, str):
        raise InvalidContent(f"content must be str, not {type(content).__name__}")
    if "\x00" in content:
        raise InvalidContent("content contains NUL bytes")
    try:
        content.encode("utf-8")
    except UnicodeEncodeError as exc:  # lone surrogates
        raise InvalidContent(f"content is not encodable as UTF-8: {exc.reason}") from exc
    if not content.strip():
        raise EmptyContent("content is empty or whitespace only")
    if len(content) > max_chars:
        raise ContentTooLarge(
            f"content has {len(content)} characters; the limit is {max_chars} "
            "(Settings.max_content_chars)"
        )
    return content


_LABEL_BAD = re.compile(r"[\x00-\x1f\x7f]")


def clean_label(label: str, max_len: int = 64) -> str:
    """Normalise a tag or keyword: trimmed, no control characters, bounded length."""
    if not isinstance(label, str):
        raise InvalidContent(f"tags and keywords must be strings, not {type(label).__name__}")
    label = _LABEL_BAD.sub(" ", label).strip()
    label = re.sub(r"\s+", " ", label)
    if not label:
        raise InvalidContent("empty tag or keyword")
    if len(label) > max_len:
        raise InvalidContent(f"tag or keyword longer than {max_len} characters: {label[:20]!r}…")
    return label


def clean_labels(labels: Iterable[object], cap: int, *, strict: bool = True, lower: bool = False,
                 max_len: int = 64) -> list[str]:
    """Cleaned labels (see :func:`clean_label`), de-duplicated case-insensitively, at most ``cap``.

    The one label cleaner of the user API, the engine and the agents. ``strict``
    (user input, evolution proposals) raises :class:`InvalidContent` for a label
    that is not a string, empty or longer than ``max_len``; otherwise (a model's
    reply) such a label is dropped, or cut to ``max_len``. ``lower`` lowercases.
    """
    out: list[str] = []
    seen: set[str] = set()
    for label in labels:
        if strict:
            value = clean_label(label, max_len)  # type: ignore[arg-type]  # it checks the type itself
        else:
            value = re.sub(r"\s+", " ", _LABEL_BAD.sub(" ", str(label))).strip()[:max_len].strip()
            if not value:
                continue
        if lower:
            value = value.lower()
        if value.casefold() not in seen:
            seen.add(value.casefold())
            out.append(value)
    return out[:cap]
