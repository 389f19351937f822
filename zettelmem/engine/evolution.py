"""Applying agents' decisions under the guards: offered ids, grounding, versions.

Pure functions (no I/O): they turn a decision into links and versioned changes
(or audited rejections) on the chunk's working set; the pipeline writes them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from zettelmem.agents.base import Candidate, Decision, EvolutionProposal
from zettelmem.config import AgentsConfig
from zettelmem.engine.guards import check_grounding
from zettelmem.engine.results import AddResult
from zettelmem.errors import InvalidInput
from zettelmem.models import EVOLVABLE_FIELDS, BuiltBy, Change, Link, MemoryType, Note
from zettelmem.text import clean_content, clean_labels

__all__ = ["USER", "apply_decision", "clean_fields", "evolution_change", "with_change"]

USER = BuiltBy(kind="user", agent="api", version="1")


def apply_decision(
    cfg: AgentsConfig, note: Note, offered: list[Candidate], decision: Decision, working: dict[str, Note],
    evolve: bool,
) -> AddResult:
    """Guard and apply one decision to the chunk's working set."""
    result = AddResult(note=note)
    ids = {c.note.id for c in offered}
    seen: set[tuple[str, str]] = set()
    for p in decision.links:
        if p.target_id not in ids or p.target_id == note.id:
            result.dropped.append(p.target_id)
            continue
        if (p.target_id, p.relation.value) in seen:
            continue
        seen.add((p.target_id, p.relation.value))
        result.links.append(Link(source=note.id, target=p.target_id, relation=p.relation,
                                 weight=p.weight, rationale=p.rationale[:500],
                                 created_by=decision.draft.built_by))
    if not evolve:
        return result
    linked = {lk.target for lk in result.links}
    for prop in decision.evolutions:
        target = working.get(prop.target_id) or next((c.note for c in offered if c.note.id == prop.target_id), None)
        if target is None or prop.target_id not in linked:
            result.dropped.append(prop.target_id)
            continue
        change = evolution_change(cfg, note, target, prop, offered, result.links)
        if change.kind == "rejected":
            result.rejected.append(change)
            continue
        working[target.id] = with_change(target, change)
        result.changes.append(change)
    return result


def evolution_change(
    cfg: AgentsConfig, trigger: Note, target: Note, prop: EvolutionProposal, offered: list[Candidate], links: list[Link]
) -> Change:
    """The change a proposal makes to ``target``, or its audited rejection (kind ``rejected``)."""
    fields = {}
    reason = None
    try:
        fields = clean_fields(cfg, prop.changes())
    except InvalidInput as exc:
        reason = f"invalid proposal: {exc}"
    pinned = sorted(set(target.pinned) & set(fields))
    if pinned:  # a user edit set these fields: evolution leaves them alone
        fields = {f: v for f, v in fields.items() if f not in pinned}
        if not fields and reason is None:
            reason = f"{', '.join(pinned)} pinned by a user edit (unpin to let evolution change them)"
    if reason is None and prop.expected_version != target.version:
        reason = f"stale: proposal saw version {prop.expected_version}, note is at {target.version}"
    if reason is None:
        support = [target.content, trigger.content] + [c.note.content for c in offered if c.note.id in {lk.target for lk in links}]
        reason = check_grounding(prop, target, support)
    current = target.evolvable()
    diff_after = {f: v for f, v in fields.items() if current.get(f) != v}
    if reason is None and not diff_after:
        reason = "no change"
    kind: Literal["rejected", "evolve"] = "rejected" if reason else "evolve"
    return Change(
        note_id=target.id, scope=target.scope, version_before=target.version,
        version_after=target.version if reason else target.version + 1,
        before={f: current.get(f) for f in (diff_after or fields)},
        after=diff_after or fields,
        rationale=(f"rejected: {reason}. " if reason else "") + prop.rationale[:500],
        trigger=trigger.id, agent=prop.agent, kind=kind,
    )


def clean_fields(cfg: AgentsConfig, fields: dict[str, Any]) -> dict[str, Any]:
    """Validated, normalised evolvable fields; :class:`InvalidInput` for anything else."""
    out: dict[str, Any] = {}
    for name, value in fields.items():
        if name not in EVOLVABLE_FIELDS:
            raise InvalidInput(f"field {name!r} cannot be changed")
        if name == "keywords":
            out[name] = clean_labels(value, cfg.max_keywords + 4)
        elif name == "tags":
            out[name] = clean_labels(value, cfg.max_tags + 4)
        elif name == "context":
            if not isinstance(value, str):
                raise InvalidInput("context must be a string")
            out[name] = clean_content(value, 500).strip()
        elif name == "memory_type":
            out[name] = MemoryType(value).value
    return out


def with_change(note: Note, change: Change, when: datetime | None = None) -> Note:
    """``note`` with ``change`` applied (fields, version, update time)."""
    return note.model_copy(update={**{f: (MemoryType(v) if f == "memory_type" else v) for f, v in change.after.items()},
                                   "version": change.version_after, "updated_at": when or change.created_at})

