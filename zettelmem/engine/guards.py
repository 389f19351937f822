"""Guards every agent's proposals pass before anything is written.

Grounding rule (documented in the README): a proposal for note T, triggered by
new note N, may only *add* a keyword or tag whose content words (stemmed, stop
words dropped) all occur in the support text = T's content + N's content + the
content of the notes linked to T or N in this pass. A proposed context must
have at least ``CONTEXT_SUPPORT`` of its content words in the support text, and
every number and capitalised name in it must occur there. Removing labels needs
no grounding, but a pass may not remove more than half of a note's keywords or
tags (an evolution refines; it does not wipe), nor empty a non-empty context.
Memory type changes need no grounding. Ids must be ones that were offered, and
the target's version must still be the one the agent saw. A topic note's
abstractive summary (consolidation) is held to the context rule against its
members' texts (:func:`check_summary`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from zettelmem.agents.base import EvolutionProposal
from zettelmem.models import MemoryType, Note
from zettelmem.text import STOPWORDS, terms

__all__ = ["CONTEXT_SUPPORT", "check_grounding", "check_summary"]

CONTEXT_SUPPORT = 0.6
_NAME_OR_NUMBER = re.compile(r"\b(?:[A-Z][a-z]{2,}|\d[\d,.:/-]*)\b")


def check_grounding(proposal: EvolutionProposal, target: Note, support_texts: Iterable[str]) -> str | None:
    """None if the proposal is grounded, else the reason it is not."""
    support = " ".join(support_texts)
    support_terms = set(terms(support))
    for field in ("keywords", "tags"):
        new = getattr(proposal, field)
        if new is None:
            continue
        old = {" ".join(terms(x)) for x in getattr(target, field)}
        kept = old & {" ".join(terms(x)) for x in new}
        if len(old) >= 2 and len(kept) * 2 < len(old):
            return f"would remove {len(old) - len(kept)} of the note's {len(old)} {field}: destructive"
        for label in new:
            parts = terms(label)
            if " ".join(parts) in old:
                continue
            if not parts:
                return f"{field[:-1]} {label!r} has no content words"
            missing = [p for p in parts if p not in support_terms]
            if missing:
                return f"{field[:-1]} {label!r} is not supported by the texts (missing {', '.join(missing)})"
    if proposal.context is not None and proposal.context != target.context:
        if target.context and not proposal.context.strip():
            return "would empty the context: destructive"
        problem = _unsupported("context", proposal.context, support, support_terms)
        if problem:
            return problem
    if proposal.memory_type is not None:
        MemoryType(proposal.memory_type)
    return None


def _unsupported(what: str, text: str, support: str, support_terms: set[str]) -> str | None:
    parts = terms(text)
    if not parts:
        return f"{what} has no content words"
    share = sum(p in support_terms for p in parts) / len(parts)
    if share < CONTEXT_SUPPORT:
        return f"{what} is only {share:.0%} supported by the texts (need {CONTEXT_SUPPORT:.0%})"
    lower_support = support.lower()
    for token in _NAME_OR_NUMBER.findall(text):
        if token.lower() not in lower_support and token.lower() not in STOPWORDS:  # "She", "They" open sentences
            return f"{what} introduces {token!r}, which no text mentions"
    return None


def check_summary(text: str, member_texts: Iterable[str]) -> str | None:
    """None if a topic note's summary is grounded in its members' texts, else the reason it is not.

    The rule of a proposed context: at least ``CONTEXT_SUPPORT`` of its content words occur in
    the members' texts, and every number and capitalised name in it occurs there.
    """
    support = " ".join(member_texts)
    return _unsupported("summary", text, support, set(terms(support)))
