"""What ``add`` acknowledged survives ``kill -9`` of the process mid-ingest."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from zettelmem import Memory, Scope, Settings

WRITER = textwrap.dedent(
    """
    import sys
    from zettelmem import Memory, Scope, Settings
    m = Memory(Settings(home=sys.argv[1]))
    i = 0
    while True:
        r = m.add(f"memory number {i}: the quick brown fox visits city {i % 17}", scope=Scope(user_id="crash"))
        print(r.note.id, flush=True)   # acknowledged: add() returned
        i += 1
    """
)


def test_kill_minus_9_mid_ingest_loses_nothing_acknowledged(tmp_path: Path):
    home = tmp_path / "home"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(home)], stdout=subprocess.PIPE, text=True, env=env)
    acked: list[str] = []
    deadline = time.monotonic() + 120
    assert proc.stdout is not None
    while len(acked) < 40 and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        acked.append(line.strip())
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert len(acked) >= 40, "writer did not get going"
    with Memory(Settings(home=home)) as m:
        scope = Scope(user_id="crash")
        stored = {n.id for n in m.list(scope)}
        assert set(acked) <= stored
        report = m.check(repair=True)
        assert not report.missing_vectors or report.repaired
        assert m.check().ok
        last = m.get(acked[-1], scope)
        hits = m.search(last.content, scope=scope, k=3)
        assert hits[0].note.id == last.id


def test_full_synchronous_mode_is_configurable(tmp_path: Path):
    import sqlite3

    from zettelmem.config import NetworkXConfig

    with Memory(Settings(home=tmp_path / "f", graph=NetworkXConfig(synchronous="FULL"))) as m:
        m.add("fsynced on every commit", scope=Scope(user_id="s"))
        mode = m.aio.graph._db.execute("PRAGMA synchronous").fetchone()[0]  # type: ignore[attr-defined]
    assert mode == 2  # FULL
    assert sqlite3.connect(tmp_path / "f" / "graph.sqlite").execute("SELECT count(*) FROM notes").fetchone()[0] == 1


TEXT_WRITER = textwrap.dedent(
    """
    import sys
    from zettelmem import Memory, Scope, Settings
    from zettelmem.config import HashingEmbeddingConfig
    m = Memory(Settings(home=sys.argv[1], embedding=HashingEmbeddingConfig()))
    i = 0
    while True:
        batch = [{"content": f"turn {i + j}: did the walrus number {i + j} visit harbour {(i + j) % 7}?",
                  "provenance": {"speaker": "AB"[(i + j) % 2], "session": "s", "turn": i + j}} for j in range(8)]
        m.add_many(batch, scope=Scope(user_id="crash"))
        print(i + 7, flush=True)   # acknowledged: add_many() returned
        i += 8
    """
)


def test_kill_minus_9_mid_ingest_keeps_full_text_rows_and_notes_in_step(tmp_path: Path):
    """Full-text rows are written in the note's transaction: after kill -9 they agree exactly."""
    import sqlite3

    from zettelmem.config import HashingEmbeddingConfig
    from zettelmem.stores.networkx_store import NetworkXGraphStore

    home = tmp_path / "home"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.Popen([sys.executable, "-c", TEXT_WRITER, str(home)], stdout=subprocess.PIPE, text=True, env=env)
    acked: list[int] = []
    deadline = time.monotonic() + 120
    assert proc.stdout is not None
    while len(acked) < 15 and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        acked.append(int(line))
    os.kill(proc.pid, signal.SIGKILL)  # most likely mid-batch: between commits or inside one
    proc.wait()
    assert len(acked) >= 15, "writer did not get going"
    db = sqlite3.connect(home / "graph.sqlite")
    notes, rows = (db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("notes", "notes_fts"))
    joined = db.execute("SELECT count(*) FROM notes n JOIN notes_fts f ON f.rowid = n.seq AND f.note_id = n.id")
    assert notes == rows == joined.fetchone()[0] >= acked[-1] + 1
    db.close()
    with NetworkXGraphStore(home / "graph.sqlite") as store:
        assert store.check_text_index() == {"missing": [], "stale": [], "orphan": []}
        scope = Scope(user_id="crash")
        last = acked[-1]
        hits = store.search_text(scope, f"walrus number {last}", 3)
        assert hits and store.get_note(scope, hits[0][0]).content.startswith(f"turn {last}:")
        thread = store.search_text(scope, f"number {last - 1}", 5, "thread")  # turn `last` follows it
        found = {store.get_note(scope, i).content.split(":")[0] for i, _ in thread}
        assert {f"turn {last - 1}", f"turn {last}"} <= found
    with Memory(Settings(home=home, embedding=HashingEmbeddingConfig())) as m:
        report = m.check(repair=True)
        assert not (report.missing_text or report.stale_text or report.orphan_text)
        assert m.check().ok
