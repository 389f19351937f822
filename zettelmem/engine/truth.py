"""Truth maintenance at write time: repeats, near-duplicates, supersessions, contradictions.

Called by the ingest pipeline for each new note, with the candidates it was
offered, before the note is linked:

* an **exact repeat** (same normalised content, same speaker, same scope, not
  forgotten) does not become a second note: the older note gets a ``mention``
  Change (``mentions`` + 1, ``last_seen``, the new provenance appended to
  ``sources``);
* a **near-duplicate** (a ``duplicates`` verdict -- the offline judge's, or an
  LLM reply's ``duplicates`` list -- that passes the guards: an offered id, an
  open note of the same scope, cosine >= ``MERGE_FLOOR`` and the grounding of
  :func:`grounded`) is merged the same way by a ``merge`` Change that keeps both
  provenances and quotes the merged text in its rationale. A verdict naming an id
  that was not offered is dropped (``AddResult.dropped``); one that fails the
  cosine or grounding guard is refused with an audited ``rejected`` Change on the
  older note, and the memory is stored as a note of its own;
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
from zettelmem.agents.verdicts import TruthJudge, TruthVerdict, link_verdicts
from zettelmem.engine.results import AddResult
from zettelmem.models import BuiltBy, Change, Link, Note, Relation, Scope, coerce_fields, utcnow

if TYPE_CHECKING:
    from zettelmem.stores.base import GraphStore

__all__ = ["MERGE_FLOOR", "TRUTH_KINDS", "ChunkTruth", "counter_key", "grounded", "is_closed", "truth_stats", "with_change"]

#: Lowest cosine at which a ``duplicates`` verdict may merge two notes (any agent's verdict).
MERGE_FLOOR = 0.6
ENGINE = BuiltBy(kind="offline", agent="truth-engine", version="1")
_KINDS = ("mention", "merge", "supersede", "contradict")
#: Change kinds written by truth maintenance, ``forget`` and cold-note demotion (reverted by
#: :func:`~zettelmem.engine.truth_revert.revert_truth`).
TRUTH_KINDS = ("supersede", "mention", "merge", "forget", "demote")


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
    #: new note id -> (ids its verdicts named that were not offered, refused merges), put on its result
    held: dict[str, tuple[list[str], list[Change]]] = field(default_factory=dict)
    counts: dict[tuple[Scope, str], int] = field(default_factory=dict)

    def _count(self, scope: Scope, kind: str) -> None:
        self.counts[(scope, kind)] = self.counts.get((scope, kind), 0) + 1

    def usable(self, found: list[Candidate]) -> list[Candidate]:
        """Candidates without the notes this chunk merged away."""
        return [c for c in found if c.note.id not in self.merged]

    def verdicts(self, note: Note, found: Sequence[Candidate], decision: Decision | None,
                 working: dict[str, Note]) -> list[TruthVerdict]:
        """The verdicts to apply for ``note``: an LLM decision's own, else the suite's judge's."""
        if not self.enabled:
            return []
        llm = decision is not None and decision.draft.built_by.kind == "llm"
        if decision is not None and decision.verdicts is not None and not llm:
            return list(decision.verdicts)
        judged = list(self.judge.judge(note, [(working.get(c.note.id, c.note), c.similarity) for c in found]))
        if decision is None or not llm:
            return judged
        # An LLM's joint reply judges in the same call: its "supersedes" / "contradicts" links and its
        # "duplicates" list (Decision.verdicts; an agent that leaves verdicts unset is read from its links).
        said = list(decision.verdicts) if decision.verdicts is not None else link_verdicts(
            decision.links, decision.draft.built_by)
        return self.with_judged(said, judged)

    @staticmethod
    def with_judged(said: Sequence[TruthVerdict], judged: Sequence[TruthVerdict]) -> list[TruthVerdict]:
        """A model's verdicts, plus the offline judge's duplicates for notes the model did not judge."""
        ids = {v.target_id for v in said}
        return [*said, *(v for v in judged if v.verdict == "duplicates" and v.target_id not in ids)]

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
        dups = sorted((v for v in verdicts if v.verdict == "duplicates"), key=lambda v: -sims.get(v.target_id, 0.0))
        for v in dups:
            if v.target_id not in sims or v.target_id == note.id or v.target_id in self.merged:
                self._held(note.id)[0].append(v.target_id)  # not offered: dropped, recorded on the result
                continue
            old = working.get(v.target_id) or next(c.note for c in found if c.note.id == v.target_id)
            if old.valid_to is not None or old.forgotten or old.scope != note.scope:
                continue  # closed: nothing to merge into, the memory is stored as a note
            refused = self._refused(note, old, sims[v.target_id])
            if refused is not None:  # whoever proposed it: audited, and the memory is stored as a note
                self._held(note.id)[1].append(Change(
                    note_id=old.id, scope=old.scope, version_before=old.version, version_after=old.version,
                    before={"mentions": old.mentions}, after={"mentions": old.mentions + 1}, trigger=None,
                    agent=v.agent, kind="rejected", rationale=f"rejected: {refused}. {v.rationale[:400]}"))
                continue
            why = f"merged near-duplicate {note.content[:300]!r}: {v.rationale}"
            result = self._mention(note, old, "merge", why, v.agent, working)
            self._attach(note.id, result)
            return result
        return None

    @staticmethod
    def _refused(note: Note, old: Note, similarity: float) -> str | None:
        """Why a ``duplicates`` verdict may not merge ``note`` into ``old``, or None."""
        if similarity < MERGE_FLOOR:
            return f"merge not supported: cosine {similarity:.2f} is below {MERGE_FLOOR:.2f}"
        if not grounded(note, old):
            return "merge not supported by the texts (no shared term, no shared speaker)"
        return None

    def _held(self, note_id: str) -> tuple[list[str], list[Change]]:
        return self.held.setdefault(note_id, ([], []))

    def _attach(self, note_id: str, result: AddResult) -> None:
        """Put the dropped ids and refused merges recorded for ``note_id`` on its result."""
        dropped, rejected = self.held.pop(note_id, ([], []))
        result.dropped += dropped
        result.rejected += rejected

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
        self._attach(note.id, result)
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
