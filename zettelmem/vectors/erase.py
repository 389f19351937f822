"""Erasure for a local Chroma folder: no deleted note's metadata left in its files.

Chroma keeps every write in its own log (the ``embeddings_queue`` table of
``chroma.sqlite3``) until a collection's sync threshold purges it, and SQLite
keeps deleted rows in free pages. After the vectors of hard-forgotten notes
are deleted, :func:`scrub_local_chroma` blanks the metadata (which holds their
tags) in their log entries and vacuums the file. The log entries themselves
stay, so Chroma can still replay its log; they keep the bare vector, not text.

A Chroma *server* keeps its files on its own machine: its operator runs
``chroma utils vacuum`` there.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from zettelmem.errors import StoreError

__all__ = ["scrub_local_chroma"]


_SCRUB = """
import json, sqlite3, sys
path, ids = sys.argv[1], json.load(sys.stdin)
db = sqlite3.connect(path, timeout=30, isolation_level=None)
try:
    db.execute("PRAGMA secure_delete=ON")
    marks = ",".join("?" * len(ids))
    cur = db.execute(f"UPDATE embeddings_queue SET metadata = '{{}}' WHERE id IN ({marks})", ids)
    print(cur.rowcount)
    db.execute("VACUUM")
    if db.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
finally:
    db.close()
"""


def scrub_local_chroma(folder: Path, ids: Sequence[str]) -> int:
    """Blank the logged metadata of ``ids`` and vacuum ``chroma.sqlite3``; returns rows scrubbed.

    Runs in a child process: Chroma's own SQLite library holds the file open in
    this one, and two SQLite libraries in one process do not see each other's
    locks (POSIX locks are per process), so a VACUUM from here could rewrite the
    file under Chroma's open connection. From another process, SQLite's locking
    orders the two.
    """
    path = folder / "chroma.sqlite3"
    if not ids or not path.exists():
        return 0
    done = subprocess.run([sys.executable, "-I", "-c", _SCRUB, str(path)], input=json.dumps(list(ids)),
                          capture_output=True, text=True, timeout=600, check=False)
    if done.returncode != 0:
        raise StoreError(f"could not scrub {path}: {done.stderr.strip()[-500:]}")
    return int(done.stdout.strip() or 0)
