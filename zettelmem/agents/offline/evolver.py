"""Offline Evolver: surfaces what a new note makes salient in the notes it links to.

For each linked note it proposes, at most two keywords and two tags per pass:

* when the new note *answers* the linked one (a question), the answer's leading
  keywords, so the question records what it was answered with;
* otherwise the trigger's keywords, tags and entities whose every content word
  already occurs in the linked note's own text.

Both are grounded in the texts involved (the engine checks it again). It never
rewrites ``context``: a template context would add no information, and the
embedding refresh it forces is not free. The LLM evolver does rewrite context.
"""

from __future__ import annotations

from collections.abc import Sequence

from zettelmem.agents.base import EvolutionProposal, LinkProposal
from zettelmem.config import AgentsConfig
from zettelmem.models import BuiltBy, Note, Relation
from zettelmem.text import terms

__all__ = ["OfflineEvolver"]

AGENT = BuiltBy(kind="offline", agent="offline-evolver", version="1")


class OfflineEvolver:
    """Grounded keyword/tag propagation along new links."""

    def __init__(self, config: AgentsConfig | None = None, per_pass: int = 2) -> None:
        self.config = config or AgentsConfig()
        self.per_pass = per_pass

    @staticmethod
    def _grounded(label: str, text_terms: set[str]) -> bool:
        parts = terms(label)
        return bool(parts) and all(p in text_terms for p in parts)

    def _additions(self, have: list[str], offered: list[str], text_terms: set[str], cap: int) -> list[str]:
        covered = {t for h in have for t in terms(h)}  # a label whose words are all covered adds nothing
        out = []
        for label in offered:
            parts = set(terms(label))
            if parts and not parts <= covered and self._grounded(label, text_terms):
                out.append(label)
                covered |= parts
            if len(out) >= self.per_pass or len(have) + len(out) >= cap:
                break
        return out

    async def evolve(
        self, trigger: Note, linked: Sequence[Note], links: Sequence[LinkProposal]
    ) -> list[EvolutionProposal]:
        by_id = {link.target_id: link for link in links}
        proposals = []
        for note in linked:
            link = by_id.get(note.id)
            answered = link is not None and link.relation == Relation.ANSWERS
            text_terms = set(terms(trigger.content if answered else note.content))
            offered = [*trigger.keywords, *trigger.entities]
            kw_add = self._additions(note.keywords, offered, text_terms, self.config.max_keywords + 2)
            tag_add = self._additions(note.tags, [*trigger.tags, *trigger.entities], text_terms,
                                      self.config.max_tags + 2)
            if not kw_add and not tag_add:
                continue
            why = f"linked ({link.relation.value}) to new note {trigger.id[:8]}" if link else f"linked to {trigger.id[:8]}"
            if answered:
                grounds = "the new note answers this question and these are its main words"
            else:
                grounds = "these words occur in this note's own text"
            proposals.append(
                EvolutionProposal(
                    target_id=note.id,
                    expected_version=note.version,
                    keywords=[*note.keywords, *kw_add] if kw_add else None,
                    tags=[*note.tags, *tag_add] if tag_add else None,
                    rationale=f"{why}; it makes {', '.join(repr(x) for x in dict.fromkeys(kw_add + tag_add))} salient, "
                    f"and {grounds}",
                    agent=AGENT,
                )
            )
        return proposals
