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
