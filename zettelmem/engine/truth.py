"""Truth maintenance at write time: repeats, near-duplicates, supersessions, contradictions.

Called by the ingest pipeline for each new note, with the candidates it was
offered, before the note is linked:

* an **exact repeat** (same normalised content, same speaker, same scope, not
  forgotten) does not become a second note: the older note gets a ``mention``
  Change (``mentions`` + 1, ``last_seen``, the new provenance appended to
  ``sources``);
* a **near-duplicate** (a ``duplicates`` verdict that passes the guards:
  offered id, open note, cosine >= ``MERGE_FLOOR``, unchanged version) is merged
  the same way by a ``merge`` Change that keeps both provenances and quotes the
  merged text in its rationale;
* after linking, a ``supersedes`` verdict closes the older note (``valid_to`` =
  the new note's event time, else its creation time) with a ``supersede``
  Change and a ``supersedes`` link from the new note; ``contradicts`` only
  links. Nothing is deleted, ``as_of`` reads before the change still see the
  note open, and :func:`~zettelmem.engine.truth_revert.revert_truth` undoes any of these Changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from zettelmem.agents.base import Candidate, Decision
from zettelmem.agents.offline.truth import OfflineTruthJudge, body_of, names_in, normalise, speaker_of
from zettelmem.agents.verdicts import TruthJudge, TruthVerdict
from zettelmem.engine.results import AddResult
from zettelmem.models import BuiltBy, Change, Link, Note, Relation, Scope, coerce_fields, utcnow

if TYPE_CHECKING:
    from zettelmem.stores.base import GraphStore

__all__ = ["MERGE_FLOOR", "TRUTH_KINDS", "ChunkTruth", "counter_key", "grounded", "is_closed", "truth_stats", "with_change"]

#: Lowest cosine at which a ``duplicates`` verdict may merge two notes (any agent's verdict).
MERGE_FLOOR = 0.6
ENGINE = BuiltBy(kind="offline", agent="truth-engine", version="1")
_KINDS = ("mention", "merge", "supersede", "contradict")
#: Change kinds written by truth maintenance and ``forget`` (reverted by :func:`~zettelmem.engine.truth_revert.revert_truth`).
TRUTH_KINDS = ("supersede", "mention", "merge", "forget")


def counter_key(scope: Scope | None, kind: str) -> str:
    """Meta key of a truth counter (per scope, or over all scopes)."""
    return f"truth\x1f{scope.key if scope is not None else '*'}\x1f{kind}"


def with_change(note: Note, change: Change) -> Note:
    """The note with one Change applied."""
    return note.model_copy(update={**coerce_fields(change.after), "version": change.version_after,
                                   "updated_at": change.created_at})


def _plain(note: Note, names: Sequence[str]) -> dict[str, Any]:
    data = note.model_dump(mode="json")
    return {f: data[f] for f in names}


@dataclass
class ChunkTruth:
    """Truth decisions over one ingest chunk (notes merged away, counters to persist)."""

    enabled: bool = True
    judge: TruthJudge = field(default_factory=OfflineTruthJudge)
    merged: dict[str, str] = field(default_factory=dict)  # dropped new note id -> note it became a mention of
    counts: dict[tuple[Scope, str], int] = field(default_factory=dict)

    def _count(self, scope: Scope, kind: str) -> None:
        self.counts[(scope, kind)] = self.counts.get((scope, kind), 0) + 1

    def usable(self, found: list[Candidate]) -> list[Candidate]:
        """Candidates without the notes this chunk merged away."""
        return [c for c in found if c.note.id not in self.merged]

    def verdicts(self, note: Note, found: Sequence[Candidate], decision: Decision | None,
                 working: dict[str, Note]) -> list[TruthVerdict]:
        if not self.enabled:
            return []
        if decision is not None and decision.verdicts is not None:
            return list(decision.verdicts)
        judged = list(self.judge.judge(note, [(working.get(c.note.id, c.note), c.similarity) for c in found]))
        if decision is None or decision.draft.built_by.kind != "llm":
            return judged
        # An LLM's joint reply already says "supersedes" / "contradicts" in its typed links (same call,
        # with a rationale): those are its verdicts. It has no word for a repeat, so duplicates come
        # from the offline judge, and only for notes the model did not judge otherwise.
        said = [TruthVerdict(target_id=p.target_id, verdict="supersedes" if p.relation == Relation.SUPERSEDES
                             else "contradicts", confidence=p.weight, rationale=p.rationale,
                             agent=decision.draft.built_by)
                for p in decision.links if p.relation in (Relation.SUPERSEDES, Relation.CONTRADICTS)]
        judged_ids = {v.target_id for v in said}
        return said + [v for v in judged if v.verdict == "duplicates" and v.target_id not in judged_ids]

    # -- before linking: repeats and near-duplicates ------------------------------------------------
    def collapse(self, note: Note, found: Sequence[Candidate], verdicts: Sequence[TruthVerdict],
                 working: dict[str, Note]) -> AddResult | None:
        """The AddResult of a new note that is a mention of an older one, else None (store it)."""
        if not self.enabled:
            return None
        key, who = normalise(note.content), speaker_of(note)
        for c in found:
            old = working.get(c.note.id, c.note)
            if old.scope == note.scope and old.valid_to is None and normalise(old.content) == key and speaker_of(old) == who:
                return self._mention(note, old, "mention", "exact repeat of this note", ENGINE, working)
        sims = {c.note.id: c.similarity for c in found}
        dups = sorted((v for v in verdicts if v.verdict == "duplicates" and v.target_id in sims),
                      key=lambda v: -sims[v.target_id])
        for v in dups:
            old = working.get(v.target_id) or next(c.note for c in found if c.note.id == v.target_id)
            if old.valid_to is not None or old.forgotten or sims[v.target_id] < MERGE_FLOOR or old.scope != note.scope:
                continue
            why = f"merged near-duplicate {note.content[:300]!r}: {v.rationale}"
            return self._mention(note, old, "merge", why, v.agent, working)
        return None

    def _mention(self, note: Note, old: Note, kind: Literal["mention", "merge"], why: str, agent: BuiltBy,
                 working: dict[str, Note]) -> AddResult:
        when = note.event_time or note.created_at
        after = {"mentions": old.mentions + 1, "last_seen": when.isoformat(),
                 "sources": [*[s.model_dump(mode="json") for s in old.sources], note.provenance.model_dump(mode="json")]}
        change = Change(note_id=old.id, scope=old.scope, version_before=old.version, version_after=old.version + 1,
                        before=_plain(old, list(after)), after=after, rationale=why[:800], trigger=None,
                        agent=agent, kind=kind)
        working[old.id] = with_change(old, change)
        self.merged[note.id] = old.id
        self._count(old.scope, kind)
        return AddResult(note=working[old.id], changes=[change])

    # -- after linking: supersedes and contradicts ---------------------------------------------------
    def apply(self, note: Note, found: Sequence[Candidate], verdicts: Sequence[TruthVerdict],
              working: dict[str, Note], result: AddResult) -> None:
        """Close superseded notes and link both kinds of verdict from the new note."""
        result.links = [lk for lk in result.links if lk.target not in self.merged]
        result.changes = [c for c in result.changes if c.note_id not in self.merged]
        if not self.enabled:
            return
        offered = {c.note.id for c in found}
        when = note.event_time or note.created_at
        for v in verdicts:
            if v.verdict == "duplicates":
                continue
            if v.target_id not in offered or v.target_id == note.id or v.target_id in self.merged:
                result.dropped.append(v.target_id)
                continue
            old = working.get(v.target_id) or next(c.note for c in found if c.note.id == v.target_id)
            relation = Relation.SUPERSEDES if v.verdict == "supersedes" else Relation.CONTRADICTS
            if relation == Relation.SUPERSEDES and (old.valid_to is not None or old.forgotten):
                continue  # already closed: nothing to supersede
            if relation == Relation.SUPERSEDES and not grounded(note, old):
                result.rejected.append(Change(
                    note_id=old.id, scope=old.scope, version_before=old.version, version_after=old.version,
                    before={"valid_to": None}, after={"valid_to": when.isoformat()}, trigger=note.id,
                    agent=v.agent, kind="rejected",
                    rationale=f"rejected: supersession not supported by the texts (no shared term, no shared "
                              f"speaker). {v.rationale[:400]}"))
                continue
            # added beside the linker's links (never instead: an answers/follows link feeds the thread index)
            result.links.append(Link(source=note.id, target=old.id, relation=relation,
                                     weight=max(0.05, min(1.0, v.confidence)), rationale=v.rationale[:500],
                                     created_by=v.agent))
            if relation == Relation.CONTRADICTS:
                self._count(note.scope, "contradict")
                continue
            close = max(when, old.valid_from or when)
            change = Change(note_id=old.id, scope=old.scope, version_before=old.version,
                            version_after=old.version + 1, before={"valid_to": None},
                            after={"valid_to": close.isoformat()}, rationale=v.rationale[:500],
                            trigger=note.id, agent=v.agent, kind="supersede")
            working[old.id] = with_change(old, change)
            result.changes.append(change)
            self._count(note.scope, "supersede")

    def meta(self, graph: GraphStore) -> dict[str, str]:
        """Counter updates to write with the chunk (meta key -> new value)."""
        out: dict[str, str] = {}
        totals: dict[tuple[Scope | None, str], int] = {}
        for (scope, kind), n in self.counts.items():
            totals[(scope, kind)] = totals.get((scope, kind), 0) + n
            totals[(None, kind)] = totals.get((None, kind), 0) + n
        for (where, kind), n in totals.items():
            key = counter_key(where, kind)
            out[key] = str(int(graph.get_meta(key) or 0) + n)
        return out


async def truth_stats(graph: GraphStore, scope: Scope | None) -> dict[str, int]:
    """How many repeats, merges, supersessions and contradictions were recorded."""
    import asyncio

    out = {}
    for kind in _KINDS:
        out[kind] = int(await asyncio.to_thread(graph.get_meta, counter_key(scope, kind)) or 0)
    return out


def grounded(new: Note, old: Note) -> bool:
    """A supersession needs evidence that both notes are about the same thing: the same speaker, a
    name both texts write, or a salient term (keyword, tag, entity) both hold. Whoever proposed
    it, an LLM reply included: a memory that tells the model to retire unrelated notes gets a
    rejected Change, not a closed note."""
    from zettelmem.agents.offline.linker import salient_terms

    if speaker_of(new) is not None and speaker_of(new) == speaker_of(old):
        return True
    if names_in(body_of(new)) & names_in(body_of(old)):
        return True
    return bool(salient_terms(new) & salient_terms(old))


def is_closed(note: Note, now: datetime | None = None) -> bool:
    """Superseded or forgotten by now."""
    return note.forgotten or (note.valid_to is not None and note.valid_to <= (now or utcnow()))
