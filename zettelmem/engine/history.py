"""Time travel, explicit evolution passes and the graph/vector agreement check."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime

from zettelmem.agents.base import Candidate, Decision, LinkProposal, NoteDraft
from zettelmem.engine.evolution import apply_decision
from zettelmem.engine.parts import EngineParts
from zettelmem.engine.pipeline import reembed, refresh_metadata, text_hash
from zettelmem.engine.results import AddResult, CheckReport
from zettelmem.engine.topics import broken_topics
from zettelmem.errors import NoteNotFound, StoreCorrupt
from zettelmem.models import Change, Note, Scope, _aware, coerce_fields
from zettelmem.stores.base import PutChanges, PutNotes

__all__ = ["MIGRATION_MARKER", "ORPHAN_SLACK", "check_and_repair", "evolve_pass", "note_as_of"]

ORPHAN_SLACK = 64  # orphan vectors one interrupted write may leave (the default batch)
MIGRATION_MARKER = "migration_in_progress"  # graph meta set by ``migrate_store`` until verified


def note_as_of(note: Note, changes: Sequence[Change], when: datetime) -> Note:
    """Undo, newest first, every applied change made after ``when``."""
    when = _aware(when) or when
    if note.created_at > when:
        raise NoteNotFound(f"note {note.id} did not exist yet at {when.isoformat()}")
    fields: dict[str, object] = {}
    version = note.version
    for change in sorted(changes, key=lambda c: c.created_at, reverse=True):
        if change.kind == "rejected" or change.created_at <= when:
            continue
        fields.update(change.before)
        version = change.version_before
    return note.model_copy(update={**coerce_fields(fields), "version": version})


async def evolve_pass(parts: EngineParts, scope: Scope, note_ids: Sequence[str] | None) -> list[AddResult]:
    """Let each trigger note propose rewrites of the notes it links to."""
    triggers = (
        [n for n in await parts.graph.aget_notes(scope, note_ids) if n is not None]
        if note_ids is not None
        else await parts.graph.alist_notes(scope)
    )
    if note_ids is not None and len(triggers) != len(note_ids):
        raise NoteNotFound(f"some of {list(note_ids)} are not in scope {scope}")
    results: list[AddResult] = []
    working: dict[str, Note] = {}
    for trig in triggers:
        trig = working.get(trig.id, trig)
        links = await parts.graph.aget_links(scope, [trig.id])
        ids = sorted({lk.other(trig.id) for lk in links})
        found = [working.get(i) or n for i, n in zip(ids, await parts.graph.aget_notes(scope, ids), strict=True)]
        neighbours = [n for n in found if n is not None]
        if not neighbours:
            continue
        proposals = [LinkProposal(target_id=lk.other(trig.id), relation=lk.relation, weight=lk.weight) for lk in links]
        evols = await parts.agents.evolver.evolve(trig, neighbours, proposals)
        offered = [Candidate(note=n, similarity=1.0) for n in neighbours]
        decision = Decision(draft=NoteDraft(), links=proposals, evolutions=evols)
        result = apply_decision(parts.settings.agents, trig, offered, decision, working, True)
        result.links = []
        if result.changes or result.rejected:
            results.append(result)
    changed = [working[i] for i in {c.note_id for r in results for c in r.changes}]
    if changed:
        touched = {c.note_id for r in results for c in r.changes if "context" in c.after}
        await reembed(parts, [n for n in changed if n.id in touched])
        await refresh_metadata(parts, [n for n in changed if n.id not in touched])
    all_changes = tuple(c for r in results for c in (*r.changes, *r.rejected))
    if all_changes:
        await parts.graph.abatch([PutNotes(tuple(changed)), PutChanges(scope, all_changes)])
    return results


async def _owned_scopes(parts: EngineParts) -> list[Scope]:
    """The scopes a whole-store check looks at: never another home's data on a shared server.

    An embedded graph is this home's: its scopes, plus (with a local vector folder, also
    this home's alone) the scopes holding only vectors. A server graph (Neo4j) may hold
    other homes' memories, whose vectors live elsewhere: only the scopes this home's
    vector index holds.
    """
    from zettelmem.config import ChromaLocalConfig, NetworkXConfig

    if not isinstance(parts.settings.graph, NetworkXConfig):
        return await asyncio.to_thread(parts.vectors.scopes)
    found = await parts.graph.alist_scopes()
    if isinstance(parts.settings.vectors, ChromaLocalConfig):
        found += await asyncio.to_thread(parts.vectors.scopes)
    return list(dict.fromkeys(found))


async def check_and_repair(parts: EngineParts, repair: bool, scope: Scope | None = None, *,
                           force: bool = False) -> CheckReport:
    """Compare every note (of ``scope``, or of this home's scopes) with its vector (presence, version, text)
    and with its full-text row in the graph store, and every topic note with its ``summarizes`` links
    (reported, never repaired: the member list and the links are written in one transaction).

    Scope by scope: the vectors of a scope live apart (one collection per scope),
    so a scope holding vectors but no notes is all orphans. ``repair`` re-embeds
    missing and stale vectors (rebuildable from the notes) and deletes orphan vectors
    (left by a crash between the vector write and the graph commit); if the orphans
    outnumber the notes by more than :data:`ORPHAN_SLACK` (the sign of a lost or
    replaced graph), it refuses with :class:`StoreCorrupt` unless ``force``.
    """
    report = CheckReport()
    marker = await parts.graph.aget_meta(MIGRATION_MARKER)
    if marker:
        report.interrupted_migration = marker
    scopes = [scope] if scope is not None else await _owned_scopes(parts)
    report.scopes = len(scopes)
    orphans: dict[Scope, list[str]] = {}
    fix: list[Note] = []
    for each in scopes:
        notes = {n.id: n for n in await parts.graph.alist_notes(each)}
        vector_ids = await asyncio.to_thread(parts.vectors.ids, each)
        report.notes += len(notes)
        report.vectors += len(vector_ids)
        missing = sorted(set(notes) - vector_ids)
        orphans[each] = sorted(vector_ids - set(notes))
        metas = await asyncio.to_thread(parts.vectors.metadata, sorted(set(notes) & vector_ids), each)
        stale = sorted(i for i, meta in metas.items() if meta.get("version") != notes[i].version
                       or meta.get("text_hash") != text_hash(notes[i]) or meta.get("scope") != each.key)
        report.broken_topics += await broken_topics(parts, each, notes)
        report.missing_vectors += missing
        report.orphan_vectors += orphans[each]
        report.stale_vectors += stale
        fix += [notes[i] for i in missing + stale]
    report.missing_vectors.sort()
    report.orphan_vectors.sort()
    report.stale_vectors.sort()
    text = await asyncio.to_thread(parts.graph.check_text_index, scope, repair)
    report.missing_text, report.stale_text, report.orphan_text = text["missing"], text["stale"], text["orphan"]
    if repair:
        report.repaired += sum(len(v) for v in text.values())
    if repair and not report.vectors_ok:
        if len(report.orphan_vectors) > report.notes + ORPHAN_SLACK and not force:
            raise StoreCorrupt(
                f"repair would delete {len(report.orphan_vectors)} vectors that have no note, more than the "
                f"{report.notes} notes there are (a crash leaves at most one write's worth): if the graph was "
                "lost or replaced, restore it first; repair with force (--force) to delete them anyway "
                "(nothing was changed)"
            )
        await reembed(parts, fix)
        for each, ids in orphans.items():
            await asyncio.to_thread(parts.vectors.delete, ids, each)
        report.repaired += len(fix) + len(report.orphan_vectors)
    return report
