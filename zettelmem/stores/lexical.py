"""What the stores' full-text search indexes, and how user text becomes a safe query.

Both backends index the same six fields of a note (:data:`FIELDS`): its
content, context, keywords, tags and entities, and its *thread*: the content of
the notes it answers or follows (links of relation ``answers`` / ``follows``),
so a terse reply ("Yes, last Sunday!") is found by the words of the question it
answers. A ``"note"`` search scores the first five; a ``"thread"`` search scores
all six, the thread with its own weight.

User text never reaches a query parser as written: :func:`query_words` keeps
only words (Unicode letters and digits, stop words dropped, at most
:data:`MAX_QUERY_WORDS`), and each backend quotes every word into its own
syntax, so ``title:"x" OR *`` is searched as the words ``title`` and ``x``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from typing import Literal

from zettelmem.models import Note, Relation
from zettelmem.text import STOPWORDS

__all__ = [
    "FIELDS",
    "MAX_QUERY_WORDS",
    "NOTE_FIELDS",
    "THREAD_RELATIONS",
    "TextField",
    "field_texts",
    "query_words",
    "scope_token",
    "thread_text",
]

TextField = Literal["note", "thread"]

#: The indexed fields, in index order.
FIELDS = ("content", "context", "keywords", "tags", "entities", "thread")
#: The fields a ``"note"`` search scores.
NOTE_FIELDS = FIELDS[:-1]
#: Relations whose target's content joins the source's thread text.
THREAD_RELATIONS = (Relation.ANSWERS.value, Relation.FOLLOWS.value)
#: Words of a query beyond this many are ignored (a 10k-character query stays cheap).
MAX_QUERY_WORDS = 64

_WORD = re.compile(r"[^\W_]+")


def query_words(query: str) -> list[str]:
    """The distinct lower-case words of ``query`` worth searching for, in order.

    Stop words and one-character words are dropped (unless nothing else is left);
    operators and punctuation of any query language are not words, so they vanish.
    """
    words = list(dict.fromkeys(w.lower() for w in _WORD.findall(query or "")))
    kept = [w for w in words if w not in STOPWORDS and len(w) > 1]
    return (kept or words)[:MAX_QUERY_WORDS]


def scope_token(scope_key: str) -> str:
    """One index token per scope (letters and digits), required by every full-text query."""
    return "zs" + hashlib.sha256(scope_key.encode()).hexdigest()[:32]


def field_texts(note: Note, thread: str) -> dict[str, str]:
    """The text of each indexed field of ``note`` (lists joined by spaces)."""
    return {
        "content": note.content,
        "context": note.context,
        "keywords": " ".join(note.keywords),
        "tags": " ".join(note.tags),
        "entities": " ".join(note.entities),
        "thread": thread,
    }


def thread_text(contents: Iterable[tuple[str, str]]) -> str:
    """A thread from ``(note id, content)`` of the notes answered or followed: each once, ordered by id."""
    return "\n".join(text for _, text in sorted(dict(contents).items()))
