"""What erasing a note means for a Change that quotes it (used by hard forget and topic rebuilds)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from zettelmem.models import Change

__all__ = ["ERASED", "scrub"]

ERASED = "[erased]"


def scrub(change: Change, ids: set[str], texts: Sequence[str]) -> Change | None:
    """The Change without any trace of the forgotten notes, or None when it has none."""
    raw = change.model_dump_json()
    if change.trigger not in ids and not any(t in raw or json.dumps(t)[1:-1] in raw for t in texts):
        return None

    def clean(value: Any) -> Any:
        if isinstance(value, str):
            return ERASED if any(t in value for t in texts) or value in ids else value
        if isinstance(value, list):
            return [clean(v) for v in value]
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        return value

    return change.model_copy(update={
        "trigger": None if change.trigger in ids else change.trigger,
        "rationale": ERASED if change.trigger in ids else clean(change.rationale),
        "before": clean(change.before), "after": clean(change.after),
    })
