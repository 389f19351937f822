"""Offline Linker: similarity plus shared salient terms, typed where evidence allows.

Rules, for each offered candidate (most similar first):

* the previous turn of the same session → ``answers`` if it asked a question and
  the speaker changed, else ``follows`` (always linked);
* a shared proper name (not the speakers') → ``same_entity``;
* cosine ≥ ``ELABORATE`` → ``elaborates``; otherwise ``relates_to``.

A non-sequential candidate is linked when cosine ≥ ``STRONG``, or cosine ≥ ``WEAK``
and it shares at least two salient terms (keyword/tag/entity stems) or an entity.
A candidate of another session found by full-text search (``via="text"``) that
shares a name (an entity of one note named by the other; never a speaker of the
offered notes) is linked ``same_entity`` from cosine ≥ ``CROSS`` already, in a
budget of its own (``cross_session``, at most ``max_links``): the name is the
evidence, and such notes are rarely among the most similar. Other full-text
candidates follow the rules above.
Weight = clip(cosine + 0.05 per shared term, 0.05, 1); the rationale names the
evidence. At most ``max_links`` links, strongest first.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence

from zettelmem.agents.base import Candidate, LinkProposal
from zettelmem.config import AgentsConfig
from zettelmem.models import Note, Relation
from zettelmem.text import terms

__all__ = ["OfflineLinker", "salient_terms", "shared_names"]

STRONG = 0.55
WEAK = 0.30
ELABORATE = 0.75
CROSS = 0.15

_WORD = re.compile(r"[^\W_]+")


def salient_terms(note: Note) -> set[str]:
    """Stems of a note's keywords, tags and entities."""
    out: set[str] = set()
    for label in (*note.keywords, *note.tags, *note.entities):
        out.update(terms(label))
    return out


def is_session_predecessor(note: Note, other: Note) -> bool:
    a, b = note.provenance, other.provenance
    return (
        a.session is not None
        and a.session == b.session
        and a.turn is not None
        and b.turn is not None
        and b.turn == a.turn - 1
    )


def shared_names(note: Note, other: Note, speakers: Collection[str] = ()) -> list[str]:
    """Names (entities) one note has that the other names too, as an entity or in its text.

    Speakers (``speakers``, case-folded, and the two notes' own) and their short forms
    ("Mel" for Melanie) are left out: a conversation names its speakers everywhere.
    """
    left_out = set(speakers) | {s.casefold() for s in (note.provenance.speaker, other.provenance.speaker) if s}

    def names(a: Note, b: Note) -> set[str]:
        words = {w.casefold() for w in _WORD.findall(b.content)} | {e.casefold() for e in b.entities}
        return {e for e in a.entities if not any(s.startswith(e.casefold()) for s in left_out)  # "Mel": Melanie
                and all(p.casefold() in words for p in _WORD.findall(e))}

    return sorted(names(note, other) | names(other, note))


def _session(note: Note) -> str:
    session = note.provenance.session
    return f"session {session}" if session is not None else "an earlier note"


class OfflineLinker:
    """Chooses typed, weighted links with a rationale."""

    def __init__(self, config: AgentsConfig | None = None) -> None:
        self.config = config or AgentsConfig()

    def link_sync(self, note: Note, candidates: Sequence[Candidate]) -> list[LinkProposal]:
        mine = salient_terms(note)
        my_entities = set(note.entities)
        scored: list[tuple[float, LinkProposal]] = []
        named_links: list[tuple[float, LinkProposal]] = []  # earlier sessions naming the same entity
        speakers = {s.casefold() for s in [c.note.provenance.speaker for c in candidates] if s}
        for cand in candidates:
            other = cand.note
            if other.id == note.id:
                continue
            sim = cand.similarity
            shared = sorted(mine & salient_terms(other))
            shared_entities = sorted(my_entities & set(other.entities))
            weight = min(1.0, max(0.05, sim + 0.05 * len(shared)))
            reasons = [f"cosine {sim:.2f}"]
            if shared:
                reasons.append("shares " + ", ".join(repr(t) for t in shared[:5]))
            if is_session_predecessor(note, other):
                asked = "?" in other.content and other.provenance.speaker != note.provenance.speaker
                relation = Relation.ANSWERS if asked else Relation.FOLLOWS
                reasons.insert(0, "replies to the question before it" if asked else "next turn of the session")
                scored.append((2.0, LinkProposal(target_id=other.id, relation=relation,
                                                 weight=max(weight, 0.8), rationale="; ".join(reasons))))
                continue
            named = shared_names(note, other, speakers) if cand.via == "text" else []
            if named and sim >= CROSS:  # its own budget: the name is the evidence, not the cosine
                reasons.insert(0, "both mention " + ", ".join(named[:3]))
                reasons.append(f"found by name search in {_session(other)}")
                named_links.append((weight, LinkProposal(target_id=other.id, relation=Relation.SAME_ENTITY,
                                                         weight=weight, rationale="; ".join(reasons))))
                continue
            if not (sim >= STRONG or (sim >= WEAK and (len(shared) >= 2 or shared_entities))):
                continue
            if cand.via == "text":
                reasons.append(f"found by topic search in {_session(other)}")
            if shared_entities:
                relation = Relation.SAME_ENTITY
                reasons.insert(0, "both mention " + ", ".join(shared_entities[:3]))
            elif sim >= ELABORATE:
                relation = Relation.ELABORATES
            else:
                relation = Relation.RELATES_TO
            scored.append((weight, LinkProposal(target_id=other.id, relation=relation,
                                                weight=weight, rationale="; ".join(reasons))))
        scored.sort(key=lambda x: -x[0])
        named_links.sort(key=lambda x: -x[0])
        cap = self.config.max_links
        return [p for _, p in scored[:cap]] + [p for _, p in named_links[: min(cap, self.config.cross_session)]]

    async def link(self, note: Note, candidates: Sequence[Candidate]) -> list[LinkProposal]:
        return self.link_sync(note, candidates)
