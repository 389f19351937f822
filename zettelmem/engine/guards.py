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
the target's version must still be the one the agent saw.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from zettelmem.agents.base import EvolutionProposal
from zettelmem.models import MemoryType, Note
from zettelmem.text import terms

__all__ = ["CONTEXT_SUPPORT", "check_grounding"]

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
        parts = terms(proposal.context)
        if not parts:
            return "context has no content words"
        share = sum(p in support_terms for p in parts) / len(parts)
        if share < CONTEXT_SUPPORT:
            return f"context is only {share:.0%} supported by the texts (need {CONTEXT_SUPPORT:.0%})"
        lower_support = support.lower()
        for token in _NAME_OR_NUMBER.findall(proposal.context):
            if token.lower() not in lower_support:
                return f"context introduces {token!r}, which no text mentions"
    if proposal.memory_type is not None:
        MemoryType(proposal.memory_type)
    return None
