"""What ``remember`` does not store: greetings, bare questions and exact repeats.

A chat's last human message is often not a memory: ``"hi!"``, ``"thanks"``, or a
question (``"what do you know about Biscuit?"``) that recall is *answering*. Stored,
these crowd recall with the user's own questions. :func:`skip_reason` says why a
text is not worth storing (``None`` when it is):

* a greeting or acknowledgement: every word is one of :data:`SMALL_TALK`
  (``"hi there"``, ``"ok thanks!"``), at most six words;
* a bare question: every sentence ends with ``?`` (``"I moved to Lisbon. Any
  cafés?"`` is kept: it states something);
* empty after trimming.

Exact repeats (same text, ignoring case and spacing, already stored in the scope)
are checked against the memory by the nodes and tools themselves
(:func:`same_text`), with one search.
"""

from __future__ import annotations

import re

__all__ = ["SMALL_TALK", "same_text", "skip_reason"]

SMALL_TALK = frozenset(
    "hi hello hey hiya howdy yo hola ciao greetings morning evening afternoon night good there all everyone "
    "thanks thank you thx ty cheers ok okay k kk sure yes yeah yep no nope nah cool great nice awesome perfect "
    "fine bye goodbye later see soon cya lol haha hmm um uh oh wow please welcome".split()
)
_WORD = re.compile(r"[\w']+")
_SENTENCE = re.compile(r"[^.!?\n]+[.!?]*")


def skip_reason(text: str) -> str | None:
    """Why ``text`` should not be stored as a memory (``None``: store it)."""
    words = _WORD.findall(text.lower())
    if not words:
        return "it holds no words"
    if len(words) <= 6 and all(w in SMALL_TALK for w in words):
        return "it is a greeting or acknowledgement"
    sentences = [s.strip() for s in _SENTENCE.findall(text) if _WORD.search(s)]
    if sentences and all(s.endswith("?") for s in sentences):
        return "it is a question, not a fact"
    return None


def same_text(a: str, b: str) -> bool:
    """Equal ignoring case and runs of whitespace."""
    return " ".join(a.casefold().split()) == " ".join(b.casefold().split())
