"""A damaged or mismatched store is refused on open, and repair deletes nothing it cannot rebuild (item 5)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from zettelmem import Memory, Scope, Settings, StoreCorrupt
from zettelmem.config import HashingEmbeddingConfig
from zettelmem.engine.identity import IDENTITY_FILE

S = Scope(user_id="id")


def make(home: Path, n: int = 5) -> None:
    with Memory(Settings(home=home)) as m:
        m.add_many([f"memory {i} about the lighthouse keeper" for i in range(n)], scope=S)


@pytest.mark.parametrize("damage", ["delete", "truncate"])
def test_lost_graph_beside_full_vectors_is_refused(tmp_path, damage):
    home = tmp_path / "h"
    make(home)
    db = home / "graph.sqlite"
    for extra in (db.with_name("graph.sqlite-wal"), db.with_name("graph.sqlite-shm")):
        extra.unlink(missing_ok=True)
    if damage == "delete":
        db.unlink()
    else:
        db.write_bytes(b"")
    with pytest.raises(StoreCorrupt, match=r"graph\.sqlite is missing, empty or replaced.*holds 5 vectors"):
        Memory(Settings(home=home))
    # nothing was changed: the vectors are all there, and the lock was released
    assert (home / "chroma" / IDENTITY_FILE).exists()
    with pytest.raises(StoreCorrupt):
        Memory(Settings(home=home))


def test_graph_of_another_store_is_refused(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    make(a)
    make(b, 2)
    shutil.copy(b / "graph.sqlite", a / "graph.sqlite")
    for extra in ("graph.sqlite-wal", "graph.sqlite-shm"):
        (a / extra).unlink(missing_ok=True)
    with pytest.raises(StoreCorrupt, match="different stores"):
        Memory(Settings(home=a))


def test_lost_vectors_are_rebuilt_by_repair(tmp_path):
    home = tmp_path / "h"
    make(home)
    shutil.rmtree(home / "chroma")
    with Memory(Settings(home=home)) as m:
        report = m.check()
        assert len(report.missing_vectors) == 5 and not report.ok
        assert m.check(repair=True).repaired == 5
        assert m.check().ok
    assert (home / "chroma" / IDENTITY_FILE).exists()


def test_repair_refuses_to_delete_more_orphans_than_notes_without_force(tmp_path):
    from zettelmem.engine.history import ORPHAN_SLACK
    from zettelmem.stores.base import DeleteNotes

    home = tmp_path / "h"
    n = ORPHAN_SLACK + 6
    with Memory(Settings(home=home, embedding=HashingEmbeddingConfig(dims=32))) as m:
        m.add_many([f"memory {i} about the lighthouse keeper" for i in range(n)], scope=S, evolve=False)
        ids = [x.id for x in m.list(S)]
        m.aio.graph.batch([DeleteNotes(S, tuple(ids[:-2]))])  # the graph lost all but two notes
        report = m.check()
        assert len(report.orphan_vectors) == n - 2 and report.notes == 2
        with pytest.raises(StoreCorrupt, match="force"):
            m.check(repair=True)
        assert m.stats()["vectors"] == n  # nothing deleted
        assert m.check(repair=True, force=True).repaired == n - 2
        assert m.check().ok


def test_repair_deletes_the_orphans_a_crash_leaves(tmp_path):
    home = tmp_path / "h"
    with Memory(Settings(home=home, embedding=HashingEmbeddingConfig(dims=32))) as m:
        m.add_many(["one note about the keeper"], scope=S)
        import numpy as np

        m.aio.vectors.upsert(["orphan-1", "orphan-2"], np.ones((2, 32), dtype=np.float32),
                             [{"scope": S.key, "version": 1}, {"scope": Scope(user_id="new").key, "version": 1}])
        # vectors written, graph commit never came (the second in a scope that has no note yet)
        assert m.check().orphan_vectors == ["orphan-1", "orphan-2"]
        assert m.check(repair=True).repaired == 2
        assert m.check().ok
