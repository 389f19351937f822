"""Offline Evolver: surfaces what a new note makes salient in the notes it links to.

For each linked note it proposes adding the trigger's keywords and tags whose
every content word already occurs in that linked note's own text (so each
addition is grounded in the note itself), at most two keywords and two tags per
pass. It never rewrites ``context``: a template context would add no
information, and the embedding refresh it forces is not free. The LLM evolver
does rewrite context.
"""

from __future__ import annotations

from collections.abc import Sequence

from zettelmem.agents.base import EvolutionProposal, LinkProposal
from zettelmem.config import AgentsConfig
from zettelmem.models import BuiltBy, Note
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
        have_keys = {" ".join(terms(h)) for h in have}
        out = []
        for label in offered:
            key = " ".join(terms(label))
            if key and key not in have_keys and self._grounded(label, text_terms):
                out.append(label)
                have_keys.add(key)
            if len(out) >= self.per_pass or len(have) + len(out) >= cap:
                break
        return out

    async def evolve(
        self, trigger: Note, linked: Sequence[Note], links: Sequence[LinkProposal]
    ) -> list[EvolutionProposal]:
        by_id = {link.target_id: link for link in links}
        proposals = []
        for note in linked:
            text_terms = set(terms(note.content))
            kw_add = self._additions(note.keywords, trigger.keywords, text_terms, self.config.max_keywords + 2)
            tag_add = self._additions(note.tags, trigger.tags, text_terms, self.config.max_tags + 2)
            if not kw_add and not tag_add:
                continue
            link = by_id.get(note.id)
            why = f"linked ({link.relation.value}) to new note {trigger.id[:8]}" if link else f"linked to {trigger.id[:8]}"
            proposals.append(
                EvolutionProposal(
                    target_id=note.id,
                    expected_version=note.version,
                    keywords=[*note.keywords, *kw_add] if kw_add else None,
                    tags=[*note.tags, *tag_add] if tag_add else None,
                    rationale=f"{why}; it makes {', '.join(repr(x) for x in kw_add + tag_add)} salient, "
                    "and these words occur in this note's own text",
                    agent=AGENT,
                )
            )
        return proposals
