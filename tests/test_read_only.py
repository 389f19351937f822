"""Concurrent read-only opens beside one writer (embedded store).

A writer holds the folder lock (and records its pid); ``Memory(..., read_only=True)``
takes no lock, opens SQLite with ``mode=ro``/``query_only``, refuses writes with
``StoreReadOnly`` (before anything is written) and never creates a store.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from zettelmem import Memory, Settings, StoreLocked, StoreNotFound, StoreReadOnly

WRITER = textwrap.dedent("""
    import sys
    from zettelmem import Memory, Settings
    mem = Memory(Settings(home=sys.argv[1], use_llm=False))
    mem.add("Biscuit the beagle loves the beach at Matosinhos.")
    print("ready", flush=True)
    sys.stdin.readline()            # hold the store open until told to go on
    mem.add("Written while a reader was open.")
    print("wrote", flush=True)
    sys.stdin.readline()
    mem.close()
""")


@pytest.fixture
def home(tmp_path) -> Path:
    home: Path = tmp_path / "home"
    with Memory(Settings(home=home, use_llm=False)) as mem:
        mem.add_many(["I adopted a beagle called Biscuit in Porto.", "My sister Clara is a vet in Porto."])
    return home


@pytest.fixture
def writer(home):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZETTELMEM_")}
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(home)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready", proc.stderr and proc.stderr.read()
    yield proc
    if proc.poll() is None:
        proc.communicate("\n\n", timeout=60)


def test_reader_beside_a_writer(home, writer):
    with pytest.raises(StoreLocked, match=f"pid {writer.pid}"):
        Memory(Settings(home=home, use_llm=False))
    with Memory(Settings(home=home, use_llm=False), read_only=True) as reader:
        notes = reader.list()
        assert len(notes) == 3  # what the writer committed before the reader opened
        hits = reader.search("beach dog", k=3)
        assert "Matosinhos" in hits[0].note.content
        assert reader.get(notes[0].id).id == notes[0].id
        assert reader.stats()["notes"] == 3
        vectors_before = reader.aio.vectors.count()
        with pytest.raises(StoreReadOnly):
            reader.add("must not be stored")
        with pytest.raises(StoreReadOnly):
            reader.update(notes[0].id, tags=["x"])
        with pytest.raises(StoreReadOnly):
            reader.link(notes[0].id, notes[1].id)
        assert reader.aio.vectors.count() == vectors_before
        writer.stdin.write("\n")
        writer.stdin.flush()
        assert writer.stdout.readline().strip() == "wrote"  # the writer goes on while the reader is open
    with Memory(Settings(home=home, use_llm=False), read_only=True) as again:
        assert len(again.list()) == 4
        assert not [n for n in again.list() if n.content == "must not be stored"]


def test_several_readers_at_once(home):
    with Memory(Settings(home=home, use_llm=False), read_only=True) as a, \
            Memory(Settings(home=home, use_llm=False), read_only=True) as b:
        assert len(a.list()) == len(b.list()) == 2
        with Memory(Settings(home=home, use_llm=False)) as w:  # readers hold no lock
            w.add("A third note.")


def test_read_only_open_never_creates_a_store(tmp_path):
    missing = tmp_path / "no-such-home"
    with pytest.raises(StoreNotFound):
        Memory(Settings(home=missing, use_llm=False), read_only=True)
    assert not missing.exists()


def test_a_server_store_opened_read_only_refuses_writes(home):
    """Neo4j takes no folder lock: a read-only open wraps its batches to refuse writes (shown on any store)."""
    from zettelmem.engine.factory import refuse_writes
    from zettelmem.stores.networkx_store import NetworkXGraphStore

    store = refuse_writes(NetworkXGraphStore(home / "graph.sqlite"))
    try:
        assert store.get_meta("embedding_model")
        with pytest.raises(StoreReadOnly):
            store.put_meta("x", "y")
        assert store.get_meta("x") is None
    finally:
        store.close()
