"""Copy a whole store to another backend, then prove the copy.

:func:`migrate_store` moves every scope of a store (typically the embedded
NetworkX + local Chroma one) into a target (typically Neo4j + a Chroma server,
or another folder): notes, links, changes (history order kept) and store meta.
Vectors are copied scope by scope from the source index (``get_vectors``; each scope
has its own collection on either side), never re-embedded, so the
target must be configured with the same embedding model and dimension
(else :class:`~zettelmem.errors.EmbeddingModelMismatch`).

Writes are upserts in the engine's order (vectors, then notes, then links and
changes, per page), so an interrupted run is finished by running it again.
The target records a marker (``migration_in_progress``) before the first write
and clears it once the copy is verified, so ``check`` on the target reports an
interrupted migration. Afterwards per-scope counts, vector ids, store meta and a random sample of
notes, their links, histories and vectors are compared; disagreements are
listed in :attr:`MigrationReport.mismatches`.
"""

from __future__ import annotations

import json
import random
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from zettelmem.config import Neo4jConfig, NetworkXConfig, Settings
from zettelmem.embeddings import make_embedder
from zettelmem.engine.factory import open_graph, open_vectors
from zettelmem.engine.history import MIGRATION_MARKER
from zettelmem.engine.identity import STORE_ID_KEY
from zettelmem.errors import ConfigurationError, EmbeddingModelMismatch
from zettelmem.models import Note, Scope
from zettelmem.stores.base import GetChanges, GraphStore, PutChanges, PutLinks, PutMeta, PutNotes
from zettelmem.vectors.base import VectorIndex

__all__ = ["MigrationReport", "migrate_store"]

Progress = Callable[[str, int, int], None]  # (stage, done, total)
MODEL_KEY = "embedding_model"
_NOT_COPIED = frozenset({MODEL_KEY, MIGRATION_MARKER, STORE_ID_KEY})  # set per store, not copied


def _where(settings: Settings) -> str:
    g = settings.graph
    return f"{g.uri}/{g.database}" if isinstance(g, Neo4jConfig) else str(settings.graph_path())


class MigrationReport(BaseModel):
    """What :func:`migrate_store` copied and what its verification found."""

    scopes: int = 0
    notes: int = 0
    links: int = 0
    changes: int = 0
    meta: int = 0
    vectors: int = 0
    missing_vectors: list[str] = Field(default_factory=list)  # notes without a source vector
    sampled: int = 0
    mismatches: list[str] = Field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """True when the verification found no disagreement."""
        return not self.mismatches


@dataclass(frozen=True)
class _Model:  # what open_vectors needs of an embedder
    model_id: str
    dims: int


def _same_place(a: Settings, b: Settings) -> bool:
    if isinstance(a.graph, Neo4jConfig) and isinstance(b.graph, Neo4jConfig):
        return (a.graph.uri, a.graph.database) == (b.graph.uri, b.graph.database)
    return isinstance(a.graph, NetworkXConfig) and isinstance(b.graph, NetworkXConfig) and (
        a.graph_path().resolve() == b.graph_path().resolve())


def _source_model(graph: GraphStore) -> _Model:
    recorded = graph.get_meta(MODEL_KEY)
    if not recorded or ":" not in recorded:
        raise ConfigurationError("the source store records no embedding model; is it an empty or foreign store?")
    model_id, _, dims = recorded.rpartition(":")
    return _Model(model_id, int(dims))


def _meta_items(settings: Settings, graph: GraphStore, notes: dict[Scope, list[Note]]) -> dict[str, str]:
    """Every meta key of the source (read from its SQLite file when embedded)."""
    if isinstance(settings.graph, NetworkXConfig):
        uri = f"file:{settings.graph_path()}?mode=ro"
        with sqlite3.connect(uri, uri=True) as db:
            return dict(db.execute("SELECT key, value FROM meta").fetchall())
    keys = {MODEL_KEY} | {f"tail\x1f{scope.key}\x1f{n.provenance.session}"  # the engine's session tails
                          for scope, ns in notes.items() for n in ns if n.provenance.session is not None}
    return {k: v for k in sorted(keys) if (v := graph.get_meta(k)) is not None}


def _vectors(index: VectorIndex, ids: Sequence[str], scope: Scope) -> dict[str, tuple[np.ndarray, dict[str, Any]]]:
    """Stored vectors of ``scope`` and their metadata by id (ids without a vector are absent)."""
    vecs = index.get_vectors(ids, scope)
    metas = index.metadata(list(vecs), scope)
    return {i: (v, metas.get(i) or {}) for i, v in vecs.items()}


def _pages(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def migrate_store(
    source: Settings,
    target: Settings,
    *,
    progress: Progress | None = None,
    batch_size: int = 500,
    sample: int = 50,
    seed: int | None = None,
) -> MigrationReport:
    """Copy every scope of ``source`` into ``target`` and verify the copy (idempotent).

    Args:
        source: settings of the store to read (left unchanged).
        target: settings of the store to write; a Neo4j target is migrated
            (``setup()``) first.
        progress: called as ``progress(stage, done, total)``, stage in
            ``notes``, ``links``, ``changes``, ``meta``, ``verify``.
        batch_size: notes / links / changes per write.
        sample: how many random notes to compare field by field afterwards.
        seed: seed of that sample.
    """
    if _same_place(source, target):
        raise ConfigurationError("source and target are the same store")
    started = time.monotonic()
    report = MigrationReport()
    tell = progress or (lambda stage, done, total: None)
    src_graph = open_graph(source)
    closers: list[Any] = [src_graph]
    try:
        model = _source_model(src_graph)
        wanted = make_embedder(target.embedding)
        if (wanted.model_id, wanted.dims) != (model.model_id, model.dims):
            raise EmbeddingModelMismatch(
                f"the source vectors were made by {model.model_id} ({model.dims} dims) but the target is "
                f"configured for {wanted.model_id} ({wanted.dims} dims); configure the same model"
            )
        src_vec = open_vectors(source, model)  # type: ignore[arg-type]
        closers.append(src_vec)
        dst_graph = open_graph(target)
        closers.append(dst_graph)
        dst_graph.setup()
        recorded = dst_graph.get_meta(MODEL_KEY)
        if recorded not in (None, f"{model.model_id}:{model.dims}"):
            raise EmbeddingModelMismatch(f"the target store already holds vectors of {recorded}")
        dst_graph.put_meta(MODEL_KEY, f"{model.model_id}:{model.dims}")
        # written first, cleared only on verified completion: ``check`` of the target sees a partial copy
        dst_graph.put_meta(MIGRATION_MARKER, json.dumps({"source": _where(source), "started": time.time()}))
        dst_vec = open_vectors(target, model)  # type: ignore[arg-type]
        closers.append(dst_vec)

        scopes = src_graph.list_scopes()
        notes = {s: src_graph.list_notes(s) for s in scopes}
        report.scopes = len(scopes)
        total = sum(len(ns) for ns in notes.values())
        for scope in scopes:
            for page in _pages(notes[scope], batch_size):
                found = _vectors(src_vec, [n.id for n in page], scope)
                have = [n.id for n in page if n.id in found]
                report.missing_vectors += [n.id for n in page if n.id not in found]
                if have:
                    dst_vec.upsert(have, np.stack([found[i][0] for i in have]), [found[i][1] for i in have])
                dst_graph.batch([PutNotes(tuple(page))])
                report.vectors += len(have)
                report.notes += len(page)
                tell("notes", report.notes, total)
        for scope in scopes:
            links = src_graph.get_links(scope, [n.id for n in notes[scope]], "out")
            for page in _pages(links, batch_size):
                dst_graph.batch([PutLinks(scope, tuple(page))])
                report.links += len(page)
                tell("links", report.links, report.links)
            changes = src_graph.batch([GetChanges(scope)])[0]
            for page in _pages(changes, batch_size):
                dst_graph.batch([PutChanges(scope, tuple(page))])
                report.changes += len(page)
                tell("changes", report.changes, report.changes)
        meta = _meta_items(source, src_graph, notes)
        dst_graph.batch([PutMeta(k, v) for k, v in meta.items() if k not in _NOT_COPIED])
        report.meta = len(meta)
        tell("meta", len(meta), len(meta))
        _verify(report, src_graph, src_vec, dst_graph, dst_vec, notes, meta, sample, seed, tell)
        if report.ok:
            dst_graph.put_meta(MIGRATION_MARKER, "")
    finally:
        for closer in reversed(closers):
            closer.close()
    report.seconds = round(time.monotonic() - started, 3)
    return report


def _verify(report: MigrationReport, src: GraphStore, src_vec: Any, dst: GraphStore, dst_vec: Any,
            notes: dict[Scope, list[Note]], meta: dict[str, str], sample: int, seed: int | None,
            tell: Progress) -> None:
    bad = report.mismatches
    for scope in notes:
        want, got = src.count_all(scope), dst.count_all(scope)
        if want != got:
            bad.append(f"counts in scope {scope}: source {want}, target {got}")
        missing = (src_vec.ids(scope) & {n.id for n in notes[scope]}) - dst_vec.ids(scope)
        if missing:
            bad.append(f"{len(missing)} vectors of scope {scope} missing in the target, e.g. {sorted(missing)[0]}")
    for key, value in meta.items():
        if key not in _NOT_COPIED and dst.get_meta(key) != value:
            bad.append(f"meta {key!r} differs")
    every = [(scope, n.id) for scope, ns in notes.items() for n in ns]
    picked = random.Random(seed).sample(every, min(sample, len(every)))
    for i, (scope, note_id) in enumerate(picked, 1):
        if src.get_notes(scope, [note_id]) != dst.get_notes(scope, [note_id]):
            bad.append(f"note {note_id} differs")
        links_src = {lk.key: lk for lk in src.get_links(scope, [note_id])}
        links_dst = {lk.key: lk for lk in dst.get_links(scope, [note_id])}
        if links_src != links_dst:
            bad.append(f"links of note {note_id} differ")
        if src.history(scope, note_id) != dst.history(scope, note_id):
            bad.append(f"history of note {note_id} differs")
        a, b = _vectors(src_vec, [note_id], scope), _vectors(dst_vec, [note_id], scope)
        if note_id in a and (note_id not in b or not np.allclose(a[note_id][0], b[note_id][0], atol=1e-6)
                             or a[note_id][1] != b[note_id][1]):
            bad.append(f"vector of note {note_id} differs")
        tell("verify", i, len(picked))
    report.sampled = len(picked)

